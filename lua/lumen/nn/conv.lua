-- lumen.nn.conv: convolutions (Conv1d/2d/3d, ConvTranspose1d/2d/3d).
local nn = require "lumen.nn.core"
local args = require "lumen.nn.args"
local shapes = require "lumen.shape"

local parse_args, tuple, numel, shape_str = args.parse_args, args.tuple, shapes.numel, nn.shape_str

-- Convolutions

local function conv_class(name, nsp, transposed)
  local cls = nn.class(name)
  local names = transposed
    and { "in_channels", "out_channels", "kernel_size", "stride", "padding", "output_padding",
          "groups", "bias", "dilation", "padding_mode" }
    or { "in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups",
         "bias", "padding_mode" }
  local defaults = { stride = 1, padding = 0, dilation = 1, groups = 1, bias = true,
                     output_padding = 0, padding_mode = "zeros" }
  function cls:__init(...)
    local a = parse_args("nn." .. name, names, defaults, 3, ...)
    if a.padding_mode ~= "zeros" then
      error(string.format("nn.%s: padding_mode '%s' is not supported", name,
                          tostring(a.padding_mode)), 2)
    end
    if a.in_channels % a.groups ~= 0 or a.out_channels % a.groups ~= 0 then
      error("nn." .. name .. ": groups must divide in_channels and out_channels", 2)
    end
    rawset(self, "in_channels", a.in_channels)
    rawset(self, "out_channels", a.out_channels)
    rawset(self, "kernel_size", tuple(a.kernel_size, nsp, "kernel_size"))
    rawset(self, "stride", tuple(a.stride, nsp, "stride"))
    rawset(self, "padding", tuple(a.padding, nsp, "padding"))
    rawset(self, "dilation", tuple(a.dilation, nsp, "dilation"))
    rawset(self, "output_padding", tuple(a.output_padding, nsp, "output_padding"))
    rawset(self, "groups", a.groups)
    local shape
    if transposed then
      shape = { a.in_channels, a.out_channels // a.groups }
    else
      shape = { a.out_channels, a.in_channels // a.groups }
    end
    for i = 1, nsp do shape[#shape + 1] = self.kernel_size[i] end
    -- PyTorch's default init bounds (kaiming_uniform with a=sqrt(5)): 1/sqrt(fan_in), where
    -- fan_in = weight.size(1) * prod(kernel) for both conv and transposed conv.
    local bound = 1 / math.sqrt(shape[2] * numel(self.kernel_size))
    self:param("weight", shape, -bound, bound)
    if a.bias then self:param("bias", { a.out_channels }, -bound, bound) end
  end
  function cls:forward(b, x)
    local w = b:param(self, "weight")
    local bias = rawget(self, "bias") and b:param(self, "bias") or false
    local p = { nsp = nsp, stride = self.stride, pad = self.padding, dilation = self.dilation,
                groups = self.groups }
    if transposed then p.out_pad = self.output_padding end
    return b:op(nil, transposed and "conv_transpose" or "conv", p, { x, w, bias })
  end
  function cls:extra_repr()
    local s = string.format("%d, %d, kernel_size=%s, stride=%s", self.in_channels,
                            self.out_channels, shape_str(self.kernel_size), shape_str(self.stride))
    if self.padding[1] ~= 0 then s = s .. ", padding=" .. shape_str(self.padding) end
    if self.groups ~= 1 then s = s .. ", groups=" .. self.groups end
    if not rawget(self, "bias") then s = s .. ", bias=False" end
    return s
  end
  return cls
end

nn.Conv1d = conv_class("Conv1d", 1, false)
nn.Conv2d = conv_class("Conv2d", 2, false)
nn.Conv3d = conv_class("Conv3d", 3, false)
nn.ConvTranspose1d = conv_class("ConvTranspose1d", 1, true)
nn.ConvTranspose2d = conv_class("ConvTranspose2d", 2, true)
nn.ConvTranspose3d = conv_class("ConvTranspose3d", 3, true)
