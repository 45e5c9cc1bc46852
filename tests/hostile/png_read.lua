-- png_read.lua FILE: reads a PNG and prints its size and channels (hostile.sh measures its memory).
local lumen = require "lumen"
local img, err = lumen.png_read(arg[1])
print(img and (img.width .. "x" .. img.height .. " ch " .. img.channels) or err)
