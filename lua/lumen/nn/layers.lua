-- lumen.nn.layers: Linear, activations and parameter-free layers.
local nn = require "lumen.nn.core"
local args = require "lumen.nn.args"

local parse_args, F = args.parse_args, nn.F

-- Linear: y = x W^T + b on the last axis (x [..., in]); one matmul with trans_b.

nn.Linear = nn.class("Linear")
function nn.Linear:__init(...)
  local a = parse_args("nn.Linear", { "in_features", "out_features", "bias" }, { bias = true }, 2,
                       ...)
  rawset(self, "in_features", a.in_features)
  rawset(self, "out_features", a.out_features)
  local bound = 1 / math.sqrt(a.in_features)
  self:param("weight", { a.out_features, a.in_features }, -bound, bound)
  if a.bias then self:param("bias", { a.out_features }, -bound, bound) end
end
function nn.Linear:forward(b, x)
  local bias = rawget(self, "bias") and b:param(self, "bias") or false
  return b:op(nil, "matmul", { trans_b = 1 }, { x, b:param(self, "weight"), bias })
end
function nn.Linear:extra_repr()
  return string.format("in_features=%d, out_features=%d", self.in_features, self.out_features)
end

-- ---------------------------------------------------------------------------------------------
-- Activations and parameter-free layers

local function act_class(name, act, argnames, defaults, params)
  local cls = nn.class(name)
  function cls:__init(...)
    local a = parse_args("nn." .. name, argnames or {}, defaults or {}, 0, ...)
    rawset(self, "args", a)
  end
  function cls:forward(b, x)
    local p = { act = act }
    if params then params(self.args, p) end
    return b:op(nil, "unary", p, { x })
  end
  return cls
end

nn.ReLU = act_class("ReLU", "relu", { "inplace" })
nn.ReLU6 = act_class("ReLU6", "relu6", { "inplace" })
nn.Sigmoid = act_class("Sigmoid", "sigmoid")
nn.Tanh = act_class("Tanh", "tanh")
nn.Hardswish = act_class("Hardswish", "hardswish", { "inplace" })
-- PyTorch's hardsigmoid is relu6(x + 3) / 6 = clamp(x/6 + 1/2, 0, 1): the op's default a, b.
nn.Hardsigmoid = act_class("Hardsigmoid", "hardsigmoid", { "inplace" })
nn.LeakyReLU = act_class("LeakyReLU", "leaky_relu", { "negative_slope", "inplace" },
                         { negative_slope = 0.01 },
                         function(a, p) p.act_a = a.negative_slope end)
nn.GELU = act_class("GELU", "gelu", { "approximate" }, { approximate = "none" })
local gelu_init = nn.GELU.__init
function nn.GELU:__init(...)
  gelu_init(self, ...)
  if self.args.approximate ~= "none" then
    error("nn.GELU: only approximate='none' (the erf form) is supported", 2)
  end
end

nn.Identity = nn.class("Identity")
function nn.Identity:__init() end
function nn.Identity:forward(_, x) return x end

-- Dropout is the identity at inference.
nn.Dropout = nn.class("Dropout", nn.Identity)
function nn.Dropout:__init(...)
  parse_args("nn.Dropout", { "p", "inplace" }, {}, 0, ...)
end

nn.Flatten = nn.class("Flatten")
function nn.Flatten:__init(...)
  local a = parse_args("nn.Flatten", { "start_dim", "end_dim" }, { start_dim = 1, end_dim = -1 },
                       0, ...)
  rawset(self, "start_dim", a.start_dim)
  rawset(self, "end_dim", a.end_dim)
end
function nn.Flatten:forward(b, x)
  return F.flatten(b, x, self.start_dim, self.end_dim)
end

nn.Softmax = nn.class("Softmax")
function nn.Softmax:__init(...)
  local a = parse_args("nn.Softmax", { "dim" }, {}, 1, ...)
  rawset(self, "dim", a.dim)
end
function nn.Softmax:forward(b, x)
  return F.softmax(b, x, self.dim)
end
