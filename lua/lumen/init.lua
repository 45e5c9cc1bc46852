-- lumen: the Lua face of the runtime. `local lumen = require "lumen"`.
--
-- The C binding (lumen.core) provides devices and contexts; this module re-exports it and adds
-- small helpers written in Lua. Environment failures return nil, message; misuse raises.
local core = require "lumen.core"

local lumen = {}
for k, v in pairs(core) do lumen[k] = v end

-- Human-readable byte count: 1536 -> "1.5 KiB".
function lumen.format_bytes(n)
  local units = { "B", "KiB", "MiB", "GiB", "TiB" }
  local i = 1
  while n >= 1024 and i < #units do
    n = n / 1024
    i = i + 1
  end
  return i == 1 and string.format("%d B", n) or string.format("%.1f %s", n, units[i])
end

-- lumen.load_model(name_or_path, opts): see lua/lumen/models.lua (loaded on first use, since
-- lumen.models requires this module).
function lumen.load_model(...)
  return require("lumen.models").load_model(...)
end

return lumen
