-- seeds.lua DIR: writes the seed corpora of the fuzz targets (setup.sh fuzz) into DIR/npy,
-- DIR/safetensors and DIR/sandbox: small valid files of each accepted kind, and hostile variants
-- (wrong lengths, odd headers) from the loaders' own tests. Run with `lumen run`.
local lumen = require "lumen"
local dir = assert(arg[1], "usage: lumen run seeds.lua DIR")
for _, sub in ipairs({ "npy", "safetensors", "sandbox" }) do
  assert(lumen.mkdir(dir .. "/" .. sub))
end

local function write(path, bytes)
  local f = assert(io.open(path, "wb"))
  f:write(bytes)
  f:close()
end

-- .npy: "\x93NUMPY", version, header length, dict, data
local function npy(major, descr, shape, data, order)
  local dict = string.format("{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }", descr,
    order or "False", shape)
  local pre = 10 + (major >= 2 and 2 or 0)
  local pad = (64 - (pre + #dict + 1) % 64) % 64
  dict = dict .. string.rep(" ", pad) .. "\n"
  local len = major >= 2 and string.pack("<I4", #dict) or string.pack("<I2", #dict)
  return "\147NUMPY" .. string.char(major, 0) .. len .. dict .. data
end
local f4 = string.pack("<ffff", 1, -2, 0.5, 3)
write(dir .. "/npy/f4.npy", npy(1, "<f4", "2, 2", f4))
write(dir .. "/npy/f8.npy", npy(1, "<f8", "3,", string.pack("<ddd", 1, 2, 3)))
write(dir .. "/npy/v2.npy", npy(2, "<f4", "4,", f4))
write(dir .. "/npy/scalar.npy", npy(1, "<f4", "", string.pack("<f", 7)))
write(dir .. "/npy/fortran.npy", npy(1, "<f4", "2, 2", f4, "True"))
write(dir .. "/npy/short.npy", npy(1, "<f4", "3, 3", f4))
write(dir .. "/npy/big_dim.npy", npy(1, "<f4", "9223372036854775807, 2", f4))

-- safetensors: u64 header length, JSON header, data
local function st(header, data)
  return string.pack("<I8", #header) .. header .. data
end
write(dir .. "/safetensors/f32.safetensors", st(
  '{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"__metadata__":{"k":"v"}}', f4))
write(dir .. "/safetensors/f16_bf16.safetensors", st(
  '{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[2],' ..
  '"data_offsets":[4,8]}}', string.pack("<I2I2I2I2", 0x3c00, 0x7e00, 0x3f80, 0xff80)))
write(dir .. "/safetensors/overlap.safetensors", st(
  '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],' ..
  '"data_offsets":[4,12]}}', f4))
write(dir .. "/safetensors/hole.safetensors", st(
  '{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', string.pack("<ff", 1, 2)))
write(dir .. "/safetensors/badjson.safetensors", st('{"a":{"dtype":"F32","shape":[1', f4))

-- sandbox: Lua text
local snippets = {
  "return 1, 'two', {x = {1, 2.5}, [3] = true}",
  "local t = {} for i = 1, 1e8 do t[i] = i end",
  "while true do pcall(function() while true do end end) end",
  "return string.rep('', 1 << 50)",
  "return table.move({}, 1, 1 << 50, 2)",
  "return string.find(string.rep('a', 30000), '.-.-.-b')",
  "return require('lumen.json').encode(...)",
  "setmetatable({}, {__gc = function() while true do end end})",
  "return load('return 41 + 1')()",
  "local r = ... return r.vessels.area_fraction < 0.05 and {'few'} or {}",
  "return require('lumen').context({cache_dir = '/tmp/x'})",
  "return io.open('/etc/passwd')",
  "error(setmetatable({}, {__tostring = function() return 'x' end}))",
  "return ('%d'):format(3), utf8.char(72, 228), math.floor(2.5)",
}
for i, s in ipairs(snippets) do write(string.format("%s/sandbox/%02d.lua", dir, i), s) end
