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

-- The candidate closest to word (edit distance, case ignored) when it is close enough to be a
-- likely typo (at most max(2, #word / 3) edits), else nil: for "did you mean" hints.
function lumen.suggest(word, candidates)
  local function distance(a, b)
    local prev = {}
    for j = 0, #b do prev[j] = j end
    for i = 1, #a do
      local cur = { [0] = i }
      for j = 1, #b do
        local cost = a:byte(i) == b:byte(j) and 0 or 1
        cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
      end
      prev = cur
    end
    return prev[#b]
  end
  local best, bd
  for _, c in ipairs(candidates) do
    local d = distance(word:lower(), c:lower())
    if not bd or d < bd then best, bd = c, d end
  end
  if best and bd <= math.max(2, #word // 3) then return best end
  return nil
end

-- The two front doors, lumen.load_model(name_or_path, opts) (a Lua definition + safetensors, or
-- an .onnx file) and lumen.onnx_load(path, opts), return the same runnable model object
-- (m:run{name = tensor or host array} -> {output name = tensor}): see lua/lumen/models.lua
-- (loaded on first use, since lumen.models requires this module). lumen.onnx_graph(path, opts)
-- is the binding's ONNX importer, which returns a graph (for lumen info, infer and bench).
lumen.onnx_graph = core.onnx_load

function lumen.load_model(...)
  return require("lumen.models").load_model(...)
end

function lumen.onnx_load(...)
  return require("lumen.models").onnx_load(...)
end

return lumen
