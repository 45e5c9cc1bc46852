-- lumen.nn: PyTorch-shaped modules that build a lumen graph.
--
--   local nn = require "lumen.nn"
--   local net = nn.Sequential(nn.Conv2d(1, 16, 3, 2, 1, { bias = false }), nn.BatchNorm2d(16),
--                             nn.ReLU6())
--   print(net:num_parameters())                    -- counted like PyTorch (parameters only)
--   assert(net:load("net.safetensors"))            -- strict: keys and shapes must match
--   local g = assert(net:graph({ { "image", { 1, 1, 64, 64 } } }))
--   local model = assert(ctx:model(g))
--
-- Why this shape: a model arrives as a PyTorch state_dict, so the parameter names here must be
-- the state_dict keys. A module's children are named exactly as PyTorch names them: by the
-- attribute they are assigned to (`self.conv = nn.Sequential(...)`, in assignment order) and by
-- index inside Sequential and ModuleList (0-based, as in PyTorch). The state_dict order is
-- PyTorch's too: a module's own parameters, then its own buffers, then its children.
--
-- Building: `forward(b, x, ...)` receives a build context b (the graph, the weights or a random
-- seed, the current name scope) and graph value ids, and returns value ids. Calling a module
-- (`m(b, x)`) runs its forward inside its own name scope, so node names are module paths
-- ("e4.2.cpe"). Custom modules are classes made with nn.class and a forward; the functional
-- helpers in nn.F (F.add, F.concat, F.interpolate, ...) emit single ops.
--
-- Errors: misuse (a wrong constructor argument) raises; Module:load and Module:graph return
-- nil, message for what depends on files and input sizes.
--
-- The modules live by kind in lua/lumen/nn/: core (Module, classes, the build context,
-- containers), conv, norm, layers (Linear, activations), pool, functional (nn.F and
-- save_safetensors); this file gathers them.
local nn = require "lumen.nn.core"
require "lumen.nn.conv"
require "lumen.nn.norm"
require "lumen.nn.layers"
require "lumen.nn.pool"
require "lumen.nn.functional"

return nn
