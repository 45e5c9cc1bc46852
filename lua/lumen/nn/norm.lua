-- lumen.nn.norm: normalisation (BatchNorm, InstanceNorm, LayerNorm, GroupNorm ...).
local nn = require "lumen.nn.core"
local args = require "lumen.nn.args"

local parse_args, shape_str = args.parse_args, nn.shape_str

-- Normalisation

local function batchnorm_class(name)
  local cls = nn.class(name)
  function cls:__init(...)
    local a = parse_args("nn." .. name, { "num_features", "eps", "momentum", "affine",
                                          "track_running_stats" },
                         { eps = 1e-5, momentum = 0.1, affine = true, track_running_stats = true },
                         1, ...)
    if not a.track_running_stats then
      error("nn." .. name .. ": track_running_stats=false (batch statistics at inference) is "
            .. "not supported", 2)
    end
    rawset(self, "num_features", a.num_features)
    rawset(self, "eps", a.eps)
    rawset(self, "affine", a.affine)
    local c = { a.num_features }
    -- Random weights stay away from the identity so that a wrong BatchNorm fold cannot pass
    -- a random-weight parity test; running_var is kept positive.
    if a.affine then
      self:param("weight", c, 0.5, 1.5)
      self:param("bias", c, -0.1, 0.1)
    end
    self:buffer("running_mean", c, -0.1, 0.1)
    self:buffer("running_var", c, 0.5, 1.5)
  end
  function cls:forward(b, x)
    local c = { self.num_features }
    local w = self.affine and b:param(self, "weight") or b:fill("ones", c, 1)
    local bias = self.affine and b:param(self, "bias") or b:fill("zeros", c, 0)
    return b:op(nil, "batchnorm", { eps = self.eps },
                { x, w, bias, b:param(self, "running_mean"), b:param(self, "running_var") })
  end
  function cls:extra_repr()
    return string.format("%d, eps=%g", self.num_features, self.eps)
  end
  return cls
end

nn.BatchNorm1d = batchnorm_class("BatchNorm1d")
nn.BatchNorm2d = batchnorm_class("BatchNorm2d")
nn.BatchNorm3d = batchnorm_class("BatchNorm3d")

local function instancenorm_class(name)
  local cls = nn.class(name)
  function cls:__init(...)
    local a = parse_args("nn." .. name, { "num_features", "eps", "momentum", "affine",
                                          "track_running_stats" },
                         { eps = 1e-5, momentum = 0.1, affine = false,
                           track_running_stats = false }, 1, ...)
    if a.track_running_stats then
      error("nn." .. name .. ": track_running_stats=true is not supported", 2)
    end
    rawset(self, "num_features", a.num_features)
    rawset(self, "eps", a.eps)
    rawset(self, "affine", a.affine)
    if a.affine then
      self:param("weight", { a.num_features }, 0.5, 1.5)
      self:param("bias", { a.num_features }, -0.1, 0.1)
    end
  end
  function cls:forward(b, x)
    local c = { self.num_features }
    local w = self.affine and b:param(self, "weight") or b:fill("ones", c, 1)
    local bias = self.affine and b:param(self, "bias") or b:fill("zeros", c, 0)
    return b:op(nil, "instancenorm", { eps = self.eps }, { x, w, bias })
  end
  return cls
end

nn.InstanceNorm1d = instancenorm_class("InstanceNorm1d")
nn.InstanceNorm2d = instancenorm_class("InstanceNorm2d")
nn.InstanceNorm3d = instancenorm_class("InstanceNorm3d")

-- LayerNorm over the last #normalized_shape axes of its input, as PyTorch's.
nn.LayerNorm = nn.class("LayerNorm")
function nn.LayerNorm:__init(...)
  local a = parse_args("nn.LayerNorm", { "normalized_shape", "eps", "elementwise_affine", "bias" },
                       { eps = 1e-5, elementwise_affine = true, bias = true }, 1, ...)
  local ns = type(a.normalized_shape) == "number" and { a.normalized_shape } or a.normalized_shape
  rawset(self, "normalized_shape", ns)
  rawset(self, "eps", a.eps)
  rawset(self, "elementwise_affine", a.elementwise_affine)
  if a.elementwise_affine then
    self:param("weight", ns, 0.5, 1.5)
    if a.bias then self:param("bias", ns, -0.1, 0.1) end
  end
end
function nn.LayerNorm:forward(b, x)
  local nd = #b:shape(x)
  local w = self.elementwise_affine and b:param(self, "weight") or false
  local bias = rawget(self, "bias") and b:param(self, "bias") or false
  return b:op(nil, "layernorm", { axis = nd - #self.normalized_shape, axis_end = nd,
                                  eps = self.eps }, { x, w, bias })
end
function nn.LayerNorm:extra_repr()
  return string.format("%s, eps=%g", shape_str(self.normalized_shape), self.eps)
end
