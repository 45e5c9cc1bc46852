-- tests/lua_binding.lua: every function of the Lua binding, plain asserts, one line per case.
-- Run with `lumen run tests/lua_binding.lua` (ctest: lua_binding). Needs an OpenCL device
-- (PoCL is enough); writes temporary files under os.tmpname()'s folder.
local lumen = require "lumen"
local json = require "lumen.json"
local pre = require "lumen.preprocess"
local post = require "lumen.postprocess"
local pipeline = require "lumen.pipeline"
local report = require "lumen.report"

package.path = package.path .. ";" .. arg[0]:gsub("[^/]*$", "") .. "?.lua"
local testlib = require "testlib"
local case, checkerror = testlib.case, testlib.checkerror

local function near(a, b, tol) return math.abs(a - b) <= (tol or 1e-6) end
local function all_near(a, b, tol)
  assert(#a == #b, string.format("length %d vs %d", #a, #b))
  for i = 1, #a do
    assert(near(a[i], b[i], tol), string.format("[%d] %.7g vs %.7g", i, a[i], b[i]))
  end
end

local tmp = os.tmpname()
os.remove(tmp)
assert(lumen.mkdir(tmp))
local ctx = assert(lumen.context())

case("devices and select_device", function()
  local devs = assert(lumen.devices())
  assert(#devs >= 1 and devs[1].index and devs[1].name and devs[1].global_mem > 0)
  local d = assert(lumen.select_device())
  assert(type(d.compute_units) == "number" and type(d.fp16) == "boolean")
  local none, err = lumen.select_device("no-such-device-xyz")
  assert(none == nil and err:find("no%-such%-device%-xyz"))
  checkerror("bad argument", lumen.context, {})
end)

case("context: device, cache_stats, tostring, close is idempotent", function()
  local c = assert(lumen.context())
  assert(c:device().name == ctx:device().name)
  local s = c:cache_stats()
  assert(type(s.disk_hits) == "number" and type(s.dir) == "string")
  assert(tostring(c):find("^lumen%.Context"))
  local t = assert(c:tensor({ 2 }, "alive"))
  local ok, err = c:close()
  assert(ok == nil and err == "busy", "close with a live tensor: " .. tostring(err))
  assert(c:device().name) -- still open
  t:free()
  assert(c:close() == true)
  assert(c:close() == true)
  assert(tostring(c):find("closed"))
  checkerror("attempt to use a closed context", c.device, c)
end)

case("context as a <close> variable", function()
  local keep
  do
    local c <close> = assert(lumen.context())
    keep = c
  end
  checkerror("attempt to use a closed context", keep.tensor, keep, { 1 })
end)

case("tensor: new, write, read, fill, shape, numel, name, tostring", function()
  local t = assert(ctx:tensor({ 2, 3 }, "t", { 1, 2, 3, 4, 5, 6 }))
  assert(t:numel() == 6 and t:name() == "t")
  local s = t:shape()
  assert(#s == 2 and s[1] == 2 and s[2] == 3)
  all_near(t:read(), { 1, 2, 3, 4, 5, 6 })
  assert(t:write({ 6, 5, 4, 3, 2, 1 }) == t)
  all_near(t:read(), { 6, 5, 4, 3, 2, 1 })
  t:fill(0.5)
  all_near(t:read(), { 0.5, 0.5, 0.5, 0.5, 0.5, 0.5 })
  assert(tostring(t):find("^lumen%.Tensor"))
  checkerror("the tensor has 6", t.write, t, { 1, 2 }) -- wrong length is misuse
  checkerror("not a number", t.write, t, { 1, 2, 3, 4, 5, "x" })
  checkerror("non-negative", ctx.tensor, ctx, { -1 })
end)

case("use after free raises", function()
  local t = assert(ctx:tensor({ 4 }, "f"))
  t:free()
  t:free() -- idempotent
  checkerror("attempt to use a freed tensor", t.read, t)
  checkerror("attempt to use a freed tensor", t.shape, t)
  assert(tostring(t):find("freed"))
end)

case("tensor <close> and collectgarbage between steps", function()
  local escaped
  do
    local t <close> = assert(ctx:tensor({ 8 }, "c"))
    t:fill(1)
    escaped = t
  end
  checkerror("attempt to use a freed tensor", escaped.read, escaped)
  for _ = 1, 20 do
    local t = ctx:tensor({ 64, 64 }, "g")
    t:fill(2)
    collectgarbage()
  end
  -- a tensor keeps its context alive: drop our reference to a fresh context, collect, use
  local t = assert(assert(lumen.context()):tensor({ 3 }, "keep", { 1, 2, 3 }))
  collectgarbage()
  collectgarbage()
  all_near(t:read(), { 1, 2, 3 })
end)

case("npy round trip (device and host)", function()
  local path = tmp .. "/a.npy"
  local t = assert(ctx:tensor({ 2, 2, 3 }, "n", { 1, -2, 3.5, 4, 5, 6, 7, 8, 9, 10, 11, 1e-7 }))
  assert(t:save_npy(path))
  local u = assert(ctx:load_npy(path))
  assert(table.concat(u:shape(), "x") == "2x2x3")
  all_near(u:read(), t:read(), 0)
  local h = assert(lumen.npy_load(path))
  assert(#h.shape == 3 and #h.data == 12 and h.data[3] == 3.5)
  assert(lumen.npy_save(tmp .. "/b.npy", { 3 }, { 7, 8, 9 }))
  all_near(assert(lumen.npy_load(tmp .. "/b.npy")).data, { 7, 8, 9 }, 0)
  local none, err = lumen.npy_load(tmp .. "/missing.npy")
  assert(none == nil and type(err) == "string")
end)

case("png read/write: 8 and 16 bit, Image:tensor, a bad file", function()
  local t = assert(ctx:tensor({ 1, 1, 2, 3 }, "img", { 0, 100, 200, 255, 7, 9 }))
  assert(lumen.png_write(tmp .. "/g8.png", t))
  local img = assert(lumen.png_read(tmp .. "/g8.png"))
  assert(img.width == 3 and img.height == 2 and img.channels == 1 and img.bit_depth == 8)
  local back = assert(img:tensor(ctx))
  all_near(back:read(), { 0, 100, 200, 255, 7, 9 }, 0)
  assert(lumen.png_write(tmp .. "/g16.png", t, { bit_depth = 16, scale = 200 }))
  local img16 = assert(lumen.png_read(tmp .. "/g16.png"))
  assert(img16.bit_depth == 16)
  all_near(assert(img16:tensor(ctx)):read(), { 0, 20000, 40000, 51000, 1400, 1800 }, 0)
  img:free()
  checkerror("attempt to use a freed image", function() return img:tensor(ctx) end)
  local f = assert(io.open(tmp .. "/bad.png", "wb"))
  f:write("\137PNG\r\n\26\nnot really")
  f:close()
  local none, err = lumen.png_read(tmp .. "/bad.png")
  assert(none == nil and type(err) == "string", tostring(err))
  local rgb = assert(ctx:tensor({ 1, 3, 1, 2 }, "rgb", { 255, 0, 0, 255, 0, 0 }))
  assert(lumen.png_write(tmp .. "/rgb.png", rgb))
  assert(lumen.png_read(tmp .. "/rgb.png").channels == 3)
end)

case("png size limits: refused before any pixel memory, the limit is configurable", function()
  -- a valid 20x10 frame, read with a 16-pixel limit
  local t = assert(ctx:tensor({ 1, 1, 10, 20 }, "wide"))
  t:fill(3)
  assert(lumen.png_write(tmp .. "/wide.png", t))
  local none, err = lumen.png_read(tmp .. "/wide.png", { max_side = 16 })
  assert(none == nil and err:find("wider than the limit of 16", 1, true), tostring(err))
  assert(lumen.png_read(tmp .. "/wide.png", { max_side = 20 }).width == 20)
  -- a header claiming 100000 x 100000 pixels (over the default 8192): rejected at the header
  local f = assert(io.open(tmp .. "/wide.png", "rb"))
  local bytes = f:read("a")
  f:close()
  local huge = bytes:sub(1, 16) .. string.pack(">I4I4", 100000, 100000) .. bytes:sub(25)
  f = assert(io.open(tmp .. "/huge.png", "wb"))
  f:write(huge)
  f:close()
  none, err = lumen.png_read(tmp .. "/huge.png")
  assert(none == nil and (err:find("limit", 1, true) or err:find("corrupt", 1, true)),
         tostring(err))
end)

case("mask_stats on a hand-made mask", function()
  -- two components (8-connected): 3 pixels top-left, 2 pixels bottom-right
  local m = assert(ctx:tensor({ 1, 1, 4, 4 }, "mask", {
    1, 1, 0, 0,
    0, 1, 0, 0,
    0, 0, 0, 1,
    0, 0, 0, 1 }))
  local s = lumen.mask_stats(m, 0.5)
  assert(s.pixels == 5 and s.components == 2 and s.largest == 3, json.encode(s))
  assert(near(s.area_fraction, 5 / 16) and near(s.largest_share, 3 / 5))
  assert(s.sizes[1] == 3 and s.sizes[2] == 2)
  local diag = assert(ctx:tensor({ 1, 1, 2, 2 }, "d", { 1, 0, 0, 1 }))
  assert(lumen.mask_stats(diag).components == 1) -- diagonal neighbours are connected
  local empty = lumen.mask_stats(assert(ctx:tensor({ 1, 1, 2, 2 }, "e", { 0, 0, 0, 0 })))
  assert(empty.components == 0 and empty.largest_share == 0)
  checkerror("single-plane", lumen.mask_stats, assert(ctx:tensor({ 1, 2, 2, 2 }, "two")))
end)

case("overlay_png and postprocess.write_images", function()
  local f = assert(ctx:tensor({ 1, 1, 4, 4 }, "f"))
  f:fill(1)
  local p = assert(ctx:tensor({ 1, 1, 4, 4 }, "p"))
  p:fill(-3) -- logits: all background
  assert(lumen.overlay_png(tmp .. "/ov.png", f, p, { threshold = 0 }))
  local thumb, overlay = post.write_images(tmp .. "/x", f, p, 0.5, { step = 2 })
  assert(thumb and overlay, overlay)
  local ti = assert(lumen.png_read(thumb))
  assert(ti.width == 2 and ti.channels == 3)
  assert(lumen.png_read(overlay).width == 4)
end)

case("preprocess: minmax + scale against hand-computed values", function()
  local x = assert(ctx:tensor({ 1, 1, 2, 2 }, "x", { 0, 50, 100, 200 }))
  local p = assert(pre.new(ctx, { 1, 1, 2, 2 }, { { "minmax" }, { "scale", a = 2, b = -1 } }))
  all_near(p:run(x):read(), { -1, -0.5, 0, 1 })
  -- 16-bit range gives the same result: min-max makes the bit depth irrelevant
  x:write({ 0, 16383.75, 32767.5, 65535 })
  all_near(p:run(x):read(), { -1, -0.5, 0, 1 }, 1e-5)
end)

case("preprocess: gray, resize (box), window, flat image", function()
  local rgb = assert(ctx:tensor({ 1, 3, 1, 2 }, "rgb", { 3, 0, 0, 6, 0, 9 }))
  local g = assert(pre.new(ctx, { 1, 3, 1, 2 }, { { "gray" } }))
  all_near(g:run(rgb):read(), { 1, 5 })
  local big = assert(ctx:tensor({ 1, 1, 4, 4 }, "big", {
    1, 3, 0, 0,
    5, 7, 0, 4,
    2, 2, 8, 8,
    2, 2, 8, 8 }))
  local r = assert(pre.new(ctx, { 1, 1, 4, 4 }, { { "resize", size = { 2, 2 } } }))
  all_near(r:run(big):read(), { 4, 1, 2, 8 })
  local w = assert(pre.new(ctx, { 1, 1, 1, 3 }, { { "window", center = 100, width = 200 } }))
  all_near(w:run(assert(ctx:tensor({ 1, 1, 1, 3 }, "w", { -50, 100, 400 }))):read(), { 0, 0.5, 1 })
  local flat = assert(pre.new(ctx, { 1, 1, 1, 2 }, { { "minmax" } }))
  all_near(flat:run(assert(ctx:tensor({ 1, 1, 1, 2 }, "flat", { 7, 7 }))):read(), { 0, 0 })
  checkerror("unknown preprocessing step", pre.new, ctx, { 1, 1, 2, 2 }, { { "nope" } })
end)

case("graph, model, profile, plan", function()
  local gr = lumen.graph()
  local a = gr:input("a", { 1, 4 })
  local y = gr:op("relu", "unary", { act = "relu" }, { a })
  gr:output("y", y)
  assert(gr:status())
  local m = assert(ctx:model(gr))
  checkerror("consumed", gr.input, gr, "b", { 1 })
  assert(m:inputs()[1].name == "a" and m:outputs()[1].name == "y")
  m:tensor("a"):write({ -1, 2, -3, 4 })
  assert(m:run())
  all_near(m:tensor("y"):read(), { 0, 2, 0, 4 })
  assert(type(m:plan().planned_bytes) == "number")
  local none, err = m:tensor("nope")
  assert(none == nil and err:find("nope"))
end)

case("decomposed GELU and LayerNorm written in Lua fuse into one op each (hand)", function()
  local function build()
    local gr = lumen.graph()
    local a = gr:input("a", { 2, 3 })
    local function c(name, v) return gr:const(name, {}, { v }) end
    local function bin(name, kind, x, y) return gr:op(name, "binary", { kind = kind }, { x, y }) end
    local e = gr:op("erf", "unary", { act = "erf" },
                    { bin("div", "div", a, c("sqrt2", math.sqrt(2))) })
    local p = bin("mul", "mul", a, bin("add1", "add", e, c("one", 1)))
    gr:output("gelu", bin("half", "mul", p, c("half", 0.5)))
    local m = gr:op("mean", "reduce", { kind = "mean", axes = { 1 } }, { a })
    local d = bin("sub", "sub", a, m)
    local v = gr:op("var", "reduce", { kind = "mean", axes = { 1 } }, { bin("sq", "mul", d, d) })
    local s = gr:op("sqrt", "unary", { act = "sqrt" }, { bin("addeps", "add", v, c("eps", 1e-5)) })
    local y = bin("div2", "div", d, s)
    y = bin("gamma", "mul", y, gr:const("g", { 3 }, { 1, 2, 3 }))
    gr:output("ln", bin("beta", "add", y, gr:const("b", { 3 }, { 0.5, 0, -0.5 })))
    return gr
  end
  local function erf(z) -- Abramowitz and Stegun 7.1.26, |error| < 1.5e-7
    local t = 1 / (1 + 0.3275911 * math.abs(z))
    local y = 1 - t * (0.254829592 + t * (-0.284496736 + t * (1.421413741
      + t * (-1.453152027 + t * 1.061405429)))) * math.exp(-z * z)
    return z < 0 and -y or y
  end
  local x = { -2, -0.5, 0, 0.5, 1, 3 }
  local want_g, want_l = {}, {}
  for i, xi in ipairs(x) do
    want_g[i] = 0.5 * xi * (1 + erf(xi / math.sqrt(2)))
  end
  for r = 0, 1 do
    local mean, var = 0, 0
    for k = 1, 3 do mean = mean + x[r * 3 + k] / 3 end
    for k = 1, 3 do var = var + (x[r * 3 + k] - mean) ^ 2 / 3 end
    for k = 1, 3 do
      want_l[r * 3 + k] = (x[r * 3 + k] - mean) / math.sqrt(var + 1e-5) * k + (0.5 - 0.5 * (k - 1))
    end
  end
  for _, opts in ipairs({ {}, { no_fuse_patterns = 1 } }) do
    local m = assert(ctx:model(build(), opts))
    m:tensor("a"):write(x)
    assert(m:run())
    all_near(m:tensor("gelu"):read(), want_g, 1e-5)
    all_near(m:tensor("ln"):read(), want_l, 1e-4)
    local nodes = m:stats().nodes
    assert(opts.no_fuse_patterns and nodes == 14 or nodes == 2, "nodes " .. nodes)
  end
end)

case("op tables are read by the op's schema", function()
  local gr = lumen.graph()
  local x = gr:input("x", { 1, 2, 8, 8 })
  checkerror("unknown op parameter 'strides'", gr.op, gr, "p", "pool", { strides = 2 }, { x })
  checkerror("'head_dim' is required", gr.op, gr, "a", "attention", {}, { x, x, x })
  checkerror("unknown activation 'nope'", gr.op, gr, "u", "unary", { act = "nope" }, { x })
  checkerror("expected 4", gr.op, gr, "p", "pool", { pads = { 1, 1 } }, { x })
  -- stride follows kernel unless given; [begin..., end...] pads
  local p = gr:op("p", "pool", { kernel = 2, pads = { 0, 0, 2, 2 } }, { x })
  assert(table.concat(gr:shape(p), ",") == "1,2,5,5")
  -- ranges are the op's own check: a sticky graph error
  gr:op("c", "pool", { kernel = 0 }, { x })
  local ok, err = gr:status()
  assert(not ok and err:find("'kernel'"), err)
  for _, act in ipairs(lumen.activations) do assert(type(act) == "string") end
  assert(lumen.activations[1] == "none")
end)

case("sha256 known vectors (libcrypto), files, refusals", function()
  local hex = lumen.sha256
  assert(hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
  assert(hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
  assert(hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
    == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
  assert(hex(string.rep("a", 1000000))
    == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
  local f = assert(io.open(tmp .. "/abc.txt", "wb"))
  f:write("abc")
  f:close()
  assert(lumen.sha256_file(tmp .. "/abc.txt") == hex("abc"))
  local none, err = lumen.sha256_file(tmp .. "/nope.txt")
  assert(none == nil and err:find("nope.txt"), err)
  none, err = lumen.sha256_file(tmp)
  assert(none == nil and err:find("not a regular file"), err)
end)

case("json round trip and escaping", function()
  local v = { s = "q\"b\\s/\n\t\1\127é", n = 3, f = 0.1, neg = -2.5e-8, big = 1e300, t = true,
    fl = false, arr = { 1, 2, { x = json.null } }, empty_obj = setmetatable({}, json.object),
    empty_arr = {} }
  local s = json.encode(v)
  assert(s:find('"q\\"b\\\\s/\\n\\t\\u0001\\u007fé"', 1, true), s)
  local w = assert(json.decode(s))
  assert(json.encode(w) == s)
  assert(w.s == v.s and w.n == 3 and math.type(w.n) == "integer" and w.f == 0.1 and w.neg == v.neg)
  assert(w.arr[3].x == json.null and w.fl == false)
  assert(json.decode('"\\u00e9\\ud83d\\ude00"') == "é😀")
  assert(json.encode(0 / 0) == "null" and json.encode(2.0) == "2.0")
  for _, bad in ipairs({ "{", "[1,]", '{"a" 1}', '"\\x"', "tru", "1 2", '"a\nb"' }) do
    local r, err = json.decode(bad)
    assert(r == nil and err:find("^json:"), bad)
  end
  checkerror("cannot encode a function", json.encode, { print })
end)

case("postprocess: sigmoid, softmax, classify, rules", function()
  assert(near(post.sigmoid(0), 0.5) and near(post.sigmoid(-800), 0) and near(post.sigmoid(800), 1))
  assert(near(post.logit(0.5), 0))
  local p = post.softmax({ 1, 2, 3 })
  all_near(p, { 0.09003057, 0.24472847, 0.66524096 }, 1e-7)
  local c = post.classify({ 0, 5, 1, 0 })
  assert(c.class == 1 and c.class_name == "motion_misregistration" and near(c.score, c.probs[2]))
  local rec = { class = 0, score = 0.4,
                vessels = { area_fraction = 0.01, pixels = 10, largest_share = 1 } }
  local flags = post.evaluate(post.default_rules(), rec)
  assert(table.concat(flags, ",") == "low_confidence,few_vessels", table.concat(flags, ","))
  local f2, errs = post.evaluate({ boom = function() error("x") end,
                                   hit = function() return true end }, rec)
  assert(table.concat(f2, ",") == "rule_error:boom,hit" and #errs == 1)
  checkerror("needs a 'check' function", post.normalize_rules, { { name = "x" } })
end)

case("pipeline: glob, shard, inputs", function()
  assert(pipeline.glob_match("series?_f0*.png", "seriesA_f01_16bit.png"))
  assert(not pipeline.glob_match("series?_f0*.png", "seriesAB_f01.png"))
  assert(pipeline.glob_match("a.b*", "a.bc") and not pipeline.glob_match("a.b*", "axbc"))
  assert(pipeline.glob_match("x%(1)", "x%(1)"))
  local i, n = pipeline.parse_shard("1/3")
  assert(i == 1 and n == 3)
  assert(pipeline.parse_shard("3/3") == nil and pipeline.parse_shard("x") == nil)
  local list = { "a", "b", "c", "d", "e" }
  assert(table.concat(pipeline.shard_list(list, 0, 2), "") == "ace")
  assert(table.concat(pipeline.shard_list(list, 1, 2), "") == "bd")
  local env = { SLURM_ARRAY_TASK_ID = "3", SLURM_ARRAY_TASK_COUNT = "4",
                SLURM_ARRAY_TASK_MIN = "1" }
  local si, sn = pipeline.shard_of(nil, function(k) return env[k] end)
  assert(si == 2 and sn == 4)
  local mpi = { OMPI_COMM_WORLD_RANK = "1", OMPI_COMM_WORLD_SIZE = "2" }
  si, sn = pipeline.shard_of(nil, function(k) return mpi[k] end)
  assert(si == 1 and sn == 2)
  si, sn = pipeline.shard_of(nil, function() return nil end)
  assert(si == 0 and sn == 1)
  assert(pipeline.pick_device("cpu") == "cpu")
  local all = pipeline.expand_inputs({ "examples/data" })
  assert(#all == 17, #all) -- 16 frames + the corrupt one; labels.csv is not an image
  local g = pipeline.expand_inputs({ "examples/data/seriesB_*.png" })
  assert(#g == 4 and g[1] == "examples/data/seriesB_f01_16bit.png")
  local lf = assert(io.open(tmp .. "/list.txt", "wb"))
  lf:write("# frames\n" .. os.getenv("PWD")
           .. "/examples/data/seriesA_f01_16bit.png\n\nmissing.png\n")
  lf:close()
  local l = pipeline.expand_inputs({ tmp .. "/list.txt" })
  assert(#l == 2 and l[2] == tmp .. "/missing.png", table.concat(l, " "))
end)

case("fs helpers", function()
  assert(lumen.file_type(tmp) == "dir" and lumen.file_type(tmp .. "/zz") == nil)
  local kind, size = lumen.file_type(tmp .. "/abc.txt")
  assert(kind == "file" and size == 3)
  assert(lumen.mkdir(tmp .. "/p/q/r") and lumen.file_type(tmp .. "/p/q/r") == "dir")
  local names = assert(lumen.list_dir(tmp .. "/p"))
  assert(#names == 1 and names[1] == "q")
  assert(lumen.list_dir(tmp .. "/nope") == nil)
  assert(type(lumen.isatty(2)) == "boolean")
end)

case("report: atomic write, csv escaping", function()
  assert(report.write_atomic(tmp .. "/w.txt", "one"))
  assert(report.write_atomic(tmp .. "/w.txt", "two"))
  local f = assert(io.open(tmp .. "/w.txt"))
  assert(f:read("a") == "two")
  f:close()
  for _, n in ipairs(lumen.list_dir(tmp)) do assert(not n:find("%.tmp"), n) end
  local csv = report.csv({ { a = 'x,"y"', b = { "p", "q" } } },
    { { "a", function(r) return r.a end }, { "b", function(r) return r.b end } })
  assert(csv == 'a,b\n"x,""y""",p;q\n', csv)
  assert(report.html_escape("<a href='x'>&") == "&lt;a href=&#39;x&#39;&gt;&amp;")
end)

return testlib.finish("binding")
