-- lumen.nn.pool: pooling and resampling modules.
local nn = require "lumen.nn.core"
local args = require "lumen.nn.args"

local parse_args, tuple, F, shape_str = args.parse_args, args.tuple, nn.F, nn.shape_str

-- Pooling and resampling

local function pool_class(name, kind, nsp)
  local cls = nn.class(name)
  local names = kind == "max"
    and { "kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode" }
    or { "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override" }
  function cls:__init(...)
    local a = parse_args("nn." .. name, names, { padding = 0, dilation = 1, ceil_mode = false,
                                                 count_include_pad = true }, 1, ...)
    if a.return_indices then error("nn." .. name .. ": return_indices is not supported", 2) end
    if a.divisor_override then error("nn." .. name .. ": divisor_override is not supported", 2) end
    rawset(self, "p", { kind = kind, nsp = nsp, kernel = tuple(a.kernel_size, nsp, "kernel_size"),
                        stride = tuple(a.stride or a.kernel_size, nsp, "stride"),
                        pad = tuple(a.padding, nsp, "padding"),
                        dilation = tuple(a.dilation, nsp, "dilation"),
                        ceil_mode = a.ceil_mode and 1 or 0,
                        count_include_pad = (kind == "avg" and a.count_include_pad) and 1 or 0 })
  end
  function cls:forward(b, x)
    return b:op(nil, "pool", self.p, { x })
  end
  return cls
end

nn.MaxPool1d = pool_class("MaxPool1d", "max", 1)
nn.MaxPool2d = pool_class("MaxPool2d", "max", 2)
nn.MaxPool3d = pool_class("MaxPool3d", "max", 3)
nn.AvgPool1d = pool_class("AvgPool1d", "avg", 1)
nn.AvgPool2d = pool_class("AvgPool2d", "avg", 2)
nn.AvgPool3d = pool_class("AvgPool3d", "avg", 3)

local function adaptive_class(name, nsp)
  local cls = nn.class(name)
  function cls:__init(...)
    local a = parse_args("nn." .. name, { "output_size" }, {}, 1, ...)
    rawset(self, "output_size", tuple(a.output_size, nsp, "output_size"))
  end
  -- Output size 1 is a global average (one reduce); other sizes only when they divide the
  -- input, where adaptive pooling is a plain average pool.
  function cls:forward(b, x)
    local s = b:shape(x)
    local axes, global, k = {}, true, {}
    for i = 1, nsp do
      local ax = #s - nsp + i
      axes[i] = ax - 1
      global = global and self.output_size[i] == 1
      if s[ax] % self.output_size[i] ~= 0 then
        error(string.format("%s: output size %s does not divide input %s", name,
                            shape_str(self.output_size), shape_str(s)), 0)
      end
      k[i] = s[ax] // self.output_size[i]
    end
    if global then
      return b:op(nil, "reduce", { kind = "mean", axes = axes, keepdims = 1 }, { x })
    end
    return b:op(nil, "pool", { kind = "avg", nsp = nsp, kernel = k, stride = k }, { x })
  end
  return cls
end

nn.AdaptiveAvgPool1d = adaptive_class("AdaptiveAvgPool1d", 1)
nn.AdaptiveAvgPool2d = adaptive_class("AdaptiveAvgPool2d", 2)
nn.AdaptiveAvgPool3d = adaptive_class("AdaptiveAvgPool3d", 3)

nn.Upsample = nn.class("Upsample")
function nn.Upsample:__init(...)
  local a = parse_args("nn.Upsample", { "size", "scale_factor", "mode", "align_corners" },
                       { mode = "nearest" }, 0, ...)
  rawset(self, "args", a)
end
function nn.Upsample:forward(b, x)
  return F.interpolate(b, x, self.args)
end
