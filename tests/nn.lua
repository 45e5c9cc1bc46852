-- nn.lua: lumen.nn basics, plain asserts (run by ctest as `lumen run tests/nn.lua`).
-- Naming like PyTorch's state_dict, parameter counting, shapes of the standard layers, strict
-- loading's error text, loaded and random weights on a device.
local lumen = require "lumen"
local nn = require "lumen.nn"
local F = nn.F

package.path = package.path .. ";" .. arg[0]:gsub("[^/]*$", "") .. "?.lua"
local checkerror = require("testlib").checkerror

local function keys(m)
  local out = {}
  for _, s in ipairs(m:state_spec()) do out[#out + 1] = s.key .. nn.shape_str(s.shape) end
  return table.concat(out, " ")
end

-- The shape of model's output for inputs {{name, shape}...}: model:graph() must succeed, then
-- a bare builder gives the forward's value id to ask the graph about.
local function shape_of(model, inputs)
  assert(model:graph(inputs)):free()
  local b = nn.builder(lumen.graph(), nil, 0)
  model:named_modules()
  local xs = {}
  for i, inp in ipairs(inputs) do xs[i] = b.g:input(inp[1], inp[2]) end
  local shape = b.g:shape(model(b, table.unpack(xs)))
  b.g:free()
  return nn.shape_str(shape)
end

-- 1. Sequential and attribute naming, state_dict order (params, buffers, then children)
local seq = nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1, { bias = false }), nn.BatchNorm2d(8), nn.ReLU())
assert(keys(seq) == "0.weight[8, 3, 3, 3] 1.weight[8] 1.bias[8] 1.running_mean[8] "
  .. "1.running_var[8]", keys(seq))
assert(seq:num_parameters() == 8 * 27 + 16) -- running stats are buffers, not parameters
assert(seq[2].eps == 1e-5 and #seq == 3)

local Block = nn.class("Block")
function Block:__init(c)
  self.norm = nn.LayerNorm(c, 1e-6)
  self.body = nn.Sequential(nn.Linear(c, 2 * c), nn.GELU(), nn.Linear(2 * c, c, { bias = false }))
  self.layers = nn.ModuleList({ nn.Linear(c, c), nn.Linear(c, c) })
end
function Block:forward(b, x)
  local y = self.body(b, self.norm(b, x))
  for i = 1, #self.layers do y = self.layers[i](b, y) end
  return F.add(b, x, y)
end
local net = nn.Sequential(Block(4), nn.Identity(), nn.Dropout(0.1))
assert(keys(net) == "0.norm.weight[4] 0.norm.bias[4] 0.body.0.weight[8, 4] 0.body.0.bias[8] "
  .. "0.body.2.weight[4, 8] 0.layers.0.weight[4, 4] 0.layers.0.bias[4] 0.layers.1.weight[4, 4] "
  .. "0.layers.1.bias[4]", keys(net))
assert(net:num_parameters() == 4 + 4 + 32 + 8 + 32 + 20 + 20)
print("OK   naming and parameter counting")

-- 2. constructor arguments: positional, keyword, errors
local c = nn.Conv2d(4, 8, { 3, 5 }, { stride = 2, padding = { 1, 2 }, groups = 2 })
assert(c.weight.shape[1] == 8 and c.weight.shape[2] == 2 and c.weight.shape[4] == 5)
checkerror("unknown argument 'strides'", nn.Conv2d, 4, 8, 3, { strides = 2 })
checkerror("missing argument 'kernel_size'", nn.Conv2d, 4, 8)
checkerror("groups must divide", nn.Conv2d, 4, 6, 3, { groups = 4 })
checkerror("approximate='none'", nn.GELU, "tanh")
print("OK   constructor arguments")

-- 3. output shapes of the standard layers
local S = function(m, shape) return shape_of(m, { { "x", shape } }) end
assert(S(nn.Conv2d(3, 8, 3, 2, 1), { 1, 3, 17, 9 }) == "[1, 8, 9, 5]")
assert(S(nn.Conv1d(3, 5, 3), { 2, 3, 10 }) == "[2, 5, 8]")
assert(S(nn.Conv3d(2, 4, 3, 1, 1), { 1, 2, 5, 6, 7 }) == "[1, 4, 5, 6, 7]")
assert(S(nn.ConvTranspose2d(8, 4, 2, 2), { 1, 8, 17, 9 }) == "[1, 4, 34, 18]")
assert(S(nn.Linear(5, 3), { 2, 7, 5 }) == "[2, 7, 3]")
assert(S(nn.MaxPool2d(2), { 1, 3, 9, 8 }) == "[1, 3, 4, 4]")
assert(S(nn.AvgPool3d(2, 2), { 1, 3, 4, 4, 4 }) == "[1, 3, 2, 2, 2]")
assert(S(nn.AdaptiveAvgPool2d(1), { 2, 6, 5, 7 }) == "[2, 6, 1, 1]")
assert(S(nn.Upsample({ scale_factor = 2, mode = "bilinear" }), { 1, 2, 5, 3 }) == "[1, 2, 10, 6]")
assert(S(nn.Flatten(), { 2, 3, 4, 5 }) == "[2, 60]")
assert(S(nn.LayerNorm({ 4, 5 }), { 2, 3, 4, 5 }) == "[2, 3, 4, 5]")
assert(S(nn.InstanceNorm3d(3), { 1, 3, 4, 4, 4 }) == "[1, 3, 4, 4, 4]")
assert(S(nn.Softmax(-1), { 2, 9 }) == "[2, 9]")
local g, gerr = nn.Linear(3, 2):graph({ { "x", { 1, 5 } } })
assert(g == nil and gerr:find("matmul", 1, true), gerr) -- a wrong width names the node
print("OK   layer output shapes")

-- 4. strict loading: the error lists missing, unexpected and mis-shaped keys at once
local tmp = os.tmpname()
local lin = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
assert(nn.save_safetensors(tmp, {
  { name = "0.weight", shape = { 2, 3 } },
  { name = "0.bias_", shape = { 2 } },
  { name = "0.num_batches_tracked", shape = {} },
}))
local ok, err = lin:load(tmp)
assert(ok == nil and err:find("1 missing, 1 unexpected, 1 mis-shaped", 1, true), err)
assert(err:find("missing:    0.bias", 1, true) and err:find("unexpected: 0.bias_", 1, true), err)
assert(err:find("0.weight: file [2, 3], model [2, 2]", 1, true), err)
assert(not err:find("num_batches_tracked", 1, true), err)
ok, err = lin:load(tmp .. ".does-not-exist")
assert(ok == nil and type(err) == "string")
print("OK   strict loading errors")

-- 5. loaded weights on a device: y = relu(x W^T + b) by hand
assert(nn.save_safetensors(tmp, {
  { name = "0.weight", shape = { 2, 2 }, data = { 1, 2, 3, 4 } },
  { name = "0.bias", shape = { 2 }, data = { 0.5, -10 } },
}))
assert(lin:load(tmp))
os.remove(tmp)
local ctx = assert(lumen.context())
local m = assert(ctx:model(assert(lin:graph({ { "x", { 1, 2 } } }))))
m:tensor("x"):write({ 1, 1 })
assert(m:run())
local y = m:tensor("output"):read()
assert(math.abs(y[1] - 3.5) < 1e-6 and y[2] == 0, table.concat(y, ","))
print("OK   loaded weights run")

-- 6. random weights: deterministic per seed, different across seeds
local function run_random(seed)
  local r = nn.Sequential(nn.Conv2d(2, 4, 3, 1, 1), nn.BatchNorm2d(4), nn.ReLU6(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))
  r:randomize(seed)
  local mm = assert(ctx:model(assert(r:graph({ { "x", { 1, 2, 6, 6 } } }))))
  local x = {}
  for i = 1, 72 do x[i] = math.sin(i) end
  mm:tensor("x"):write(x)
  assert(mm:run())
  return table.concat(mm:tensor("output"):read(), ",")
end
assert(run_random(7) == run_random(7))
assert(run_random(7) ~= run_random(8))
for _, s in ipairs(nn.BatchNorm2d(3):state_spec()) do
  if s.key == "running_var" then assert(s.lo > 0) end
end
print("OK   random weights are seeded")

-- 7. functional helpers
local b = nn.builder(lumen.graph(), nil, 0)
local x = b.g:input("x", { 2, 6, 4 })
assert(nn.shape_str(b.g:shape(F.slice(b, x, 1, 1, 5, 2))) == "[2, 2, 4]")
assert(nn.shape_str(b.g:shape(F.reshape(b, x, { 2, -1 }))) == "[2, 24]")
assert(nn.shape_str(b.g:shape(F.concat(b, { x, x }, -1))) == "[2, 6, 8]")
assert(nn.shape_str(b.g:shape(F.mean(b, x, { 1, 2 }))) == "[2]")
assert(nn.shape_str(b.g:shape(F.permute(b, x, { 2, 0, 1 }))) == "[4, 2, 6]")
checkerror("more than one -1", F.reshape, b, x, { -1, -1 })
b.g:free()
print("OK   functional helpers")

-- model configuration helpers: defaults overlaid, unknown keys and bad sizes named
local cfg = nn.config("m", { a = 1, size = 64 }, { size = 96 })
assert(cfg.a == 1 and cfg.size == 96)
checkerror("m: unknown config key 'b'", nn.config, "m", { a = 1 }, { b = 2 })
local sz = nn.input_size("m", 96, 2, 32)
assert(#sz == 2 and sz[1] == 96 and sz[2] == 96)
sz = nn.input_size("m", { 8, 16, 24 }, 3, 8)
assert(sz[3] == 24)
checkerror("m: size must be {H, W}, multiples of 32, got [64,48]", nn.input_size, "m", { 64, 48 },
           2, 32)
checkerror("got [64]", nn.input_size, "m", { 64 }, 2, 32)
checkerror("got 0", nn.input_size, "m", 0, 2, 32)
checkerror("got 2.5", nn.input_size, "m", 2.5, 2, 1)
print("OK   model configuration")
print("8 passed, 0 failed")
return 0
