-- lumen.package: model packages (design.md decision 12). A package is a network plus its
-- *head*: a Lua data file that says what the pipeline needs and nothing else knows (input name,
-- size and preprocessing, which output holds class logits and which a segmentation map, class
-- names and which are acceptable, calibration temperature, rules and thresholds, intended use,
-- weights status). The QC pipeline and the reports read only the head; no model name appears in
-- their code.
--
--   local package = require "lumen.package"
--   local where = assert(package.resolve("angio_qa"))            -- reads the head, loads nothing
--   local pkg = assert(package.load("models/angio_qa/angio_qa.onnx", { ctx = ctx }))
--   local cls = pkg:classify(out[pkg.class_output]:read())      -- softmax(logits / temperature)
--   local rules = package.rules(pkg, pkg.thresholds)            -- the head's rules as checks
--
-- Where a package comes from (`lumen qc --model SPEC [--head FILE.lua]`):
--   NAME          models/NAME/ (see DIR)
--   DIR           DIR/head.lua; the network is the head's `model` (door: head.door, else Lua
--                 when the head names a Lua definition, else ONNX). Without a head: DIR/model.lua
--                 or DIR's only .onnx file, with a head guessed from the outputs (see below).
--   FILE.onnx     the ONNX door, with the head FILE.head.lua, else head.lua beside it (its `model`
--                 is then replaced by FILE.onnx), else a guessed head
--   FILE.lua      a head file (head.lua, *.head.lua) or a Lua model definition (with head.lua
--                 beside it when there is one)
--   --head FILE   this head, whatever SPEC is
-- A guessed head: the model's first input, an output of shape [1, K] as class logits named
-- class_0..class_K-1 (none acceptable), an output [1, 1, H, W] as a segmentation logit map,
-- the low_confidence rule only, weights status "unknown".
--
-- Failures return nil, msg, kind: "usage" (the spec or head is wrong: the CLI exits 2 before
-- anything is loaded) or "runtime" (the network fails to load on the device).
local lumen = require "lumen"
local models = require "lumen.models"
local post = require "lumen.postprocess"

local M = {}

-- The package `lumen qc` and lumen.pipeline use when none is named.
M.DEFAULT = "angio_qa"

-- Weights statuses and the plain words every report prints for them (nil: nothing to warn).
M.WEIGHTS_STATUS = {
  synthetic = "trained on synthetic data only",
  research = "research weights",
  validated = nil,
  unknown = "weights status not given",
}

M.DEFAULT_THRESHOLDS = {
  segmentation = 0.5, min_score = 0.6, min_margin = 0.1, min_area = 0.02,
  min_largest_share = 0.2, series_max_bad_share = 0.5, series_max_bad_run = 3,
}

local HEAD_KEYS = { name = true, description = true, model = true, door = true, input = true,
  outputs = true, segmentation = true, classes = true, acceptable = true, temperature = true,
  thresholds = true, rules = true, intended_use = true, weights = true, version = true }

local function exists(path)
  return lumen.file_type(path) == "file"
end

local function dirname(p) return p:match("^(.*)/[^/]*$") or "." end
local function basename(p) return p:match("([^/]*)$") end

local function join(dir, name)
  if name:sub(1, 1) == "/" then return name end
  if dir == "." then return name end
  return dir .. "/" .. name
end

M.did_you_mean = lumen.suggest

-- The packages under models/ (folders with a head.lua or a model.lua), sorted.
function M.names()
  local root = models.models_dir()
  local out = {}
  for _, n in ipairs(root and lumen.list_dir(root) or {}) do
    if exists(root .. "/" .. n .. "/head.lua") or exists(root .. "/" .. n .. "/model.lua") then
      out[#out + 1] = n
    end
  end
  table.sort(out)
  return out
end

-- ---- the head ----

local function fail(path, msg) return nil, string.format("head %s: %s", path, msg), "usage" end

local function is_list_of(t, ty)
  if type(t) ~= "table" then return false end
  for i = 1, #t do if type(t[i]) ~= ty then return false end end
  for k in pairs(t) do if math.type(k) ~= "integer" or k < 1 or k > #t then return false end end
  return true
end

-- Checks a head table and fills its defaults. Returns head | nil, msg, "usage".
function M.check_head(h, path)
  path = path or "(head)"
  if type(h) ~= "table" then return fail(path, "must return a table, got " .. type(h)) end
  for k in pairs(h) do
    if not HEAD_KEYS[k] then
      local names = {}
      for n in pairs(HEAD_KEYS) do names[#names + 1] = n end
      local hint = type(k) == "string" and M.did_you_mean(k, names)
      return fail(path, "unknown field '" .. tostring(k) .. "'" .. (hint and
        (" (did you mean '" .. hint .. "'?)") or ""))
    end
  end
  if h.name ~= nil and type(h.name) ~= "string" then
    return fail(path, "'name' must be a string")
  end
  local m = h.model
  if type(m) == "string" then
    m = m:match("%.onnx$") and { onnx = m } or { lua = m }
  end
  if m ~= nil and (type(m) ~= "table" or not (m.lua or m.onnx)) then
    return fail(path, "'model' must be a file name or {lua=, weights=, onnx=}")
  end
  h.model = m
  if h.door ~= nil and h.door ~= "lua" and h.door ~= "onnx" then
    return fail(path, "'door' must be \"lua\" or \"onnx\"")
  end
  local inp = h.input or {}
  if type(inp) ~= "table" then return fail(path, "'input' must be a table") end
  if inp.name ~= nil and type(inp.name) ~= "string" then
    return fail(path, "input.name must be a string")
  end
  if type(inp.size) == "number" then inp.size = { inp.size, inp.size } end
  if inp.size ~= nil then
    local s = inp.size
    if not is_list_of(s, "number") or #s ~= 2 or not math.tointeger(s[1])
      or not math.tointeger(s[2]) or s[1] < 1 or s[2] < 1 then
      return fail(path, "input.size must be {H, W} (positive integers)")
    end
  end
  inp.channels = inp.channels or 1
  if inp.channels ~= 1 and inp.channels ~= 3 then
    return fail(path, "input.channels must be 1 or 3")
  end
  inp.preprocess = inp.preprocess or { { "gray" }, { "resize" }, { "minmax" } }
  if type(inp.preprocess) ~= "table" then
    return fail(path, "input.preprocess must be a list of steps")
  end
  local known_steps = require("lumen.preprocess").steps
  for i, st in ipairs(inp.preprocess) do
    if type(st) ~= "table" or type(st[1]) ~= "string" then
      return fail(path, string.format("preprocess step %d must be {\"name\", options...}", i))
    end
    if not known_steps[st[1]] then
      local names = {}
      for k in pairs(known_steps) do names[#names + 1] = k end
      table.sort(names)
      local hint = M.did_you_mean(st[1], names)
      return fail(path, string.format("preprocess step %d: unknown step '%s' (%s)", i, st[1],
        hint and ("did you mean '" .. hint .. "'?") or ("known: " .. table.concat(names, ", "))))
    end
  end
  h.input = inp
  local o = h.outputs or {}
  if type(o) ~= "table" then return fail(path, "'outputs' must be a table") end
  for k, v in pairs(o) do
    if k ~= "classes" and k ~= "segmentation" then
      return fail(path, "outputs: unknown key '" .. tostring(k) .. "' (classes, segmentation)")
    end
    if type(v) ~= "string" then return fail(path, "outputs." .. k .. " must be an output name") end
  end
  h.outputs = o
  local seg = h.segmentation or {}
  if type(seg) ~= "table" then return fail(path, "'segmentation' must be a table") end
  seg.label = seg.label or "mask"
  seg.activation = seg.activation or "sigmoid"
  if type(seg.label) ~= "string" or not seg.label:match("^[%a_][%w_]*$") then
    return fail(path, "segmentation.label must be a name (letters, digits, _)")
  end
  if seg.activation ~= "sigmoid" and seg.activation ~= "none" then
    return fail(path,
      "segmentation.activation must be \"sigmoid\" (logits) or \"none\" (probabilities)")
  end
  h.segmentation = seg
  if h.classes ~= nil and not is_list_of(h.classes, "string") then
    return fail(path, "'classes' must be a list of names")
  end
  h.acceptable = h.acceptable or {}
  if not is_list_of(h.acceptable, "string") then
    return fail(path, "'acceptable' must be a list of class names")
  end
  local known = {}
  for _, c in ipairs(h.classes or {}) do known[c] = true end
  for _, c in ipairs(h.acceptable) do
    if not known[c] then return fail(path, "acceptable class '" .. c .. "' is not in 'classes'") end
  end
  h.temperature = h.temperature or 1.0
  local t = h.temperature
  if type(t) ~= "number" or t ~= t or t <= 0 or t == math.huge then
    return fail(path, "'temperature' must be a positive number")
  end
  local th = {}
  for k, v in pairs(M.DEFAULT_THRESHOLDS) do th[k] = v end
  for k, v in pairs(h.thresholds or {}) do
    if type(v) ~= "number" then
      return fail(path, "threshold '" .. tostring(k) .. "' must be a number")
    end
    th[k] = v
  end
  h.thresholds = th
  h.rules = h.rules or { { name = "low_confidence", kind = "low_confidence" } }
  if type(h.rules) ~= "table" then return fail(path, "'rules' must be a list") end
  for i, r in ipairs(h.rules) do
    if type(r) ~= "table" or type(r.kind) ~= "string" or not M.RULE_KINDS[r.kind] then
      local kinds = {}
      for k in pairs(M.RULE_KINDS) do kinds[#kinds + 1] = k end
      table.sort(kinds)
      return fail(path, string.format("rule %d needs a kind: %s", i, table.concat(kinds, ", ")))
    end
    r.name = r.name or r.kind
  end
  local w = h.weights or {}
  if type(w) == "string" then w = { status = w } end
  w.status = w.status or "unknown"
  if w.status ~= "validated" and not M.WEIGHTS_STATUS[w.status] then
    return fail(path, "weights.status must be synthetic, research, validated or unknown")
  end
  h.weights = w
  if h.intended_use ~= nil and type(h.intended_use) ~= "string" then
    return fail(path, "'intended_use' must be a string")
  end
  return h
end

-- Reads a head file: Lua text that returns plain data, run in a sandbox (no io, os, require of
-- files; small memory and instruction caps). Returns head (checked) | nil, msg, "usage".
function M.read_head(path)
  local kind = lumen.file_type(path)
  if kind ~= "file" then
    return nil, string.format("head %s: %s", path, kind and "not a file" or "no such file"), "usage"
  end
  local f, err = io.open(path, "rb")
  if not f then return nil, err, "usage" end
  local src = f:read("a")
  f:close()
  local h, rerr = require("lumen.sandbox").run(src, "@" .. path,
    { memory = 4 << 20, instructions = 10000000 })
  if h == nil then return nil, "head " .. path .. ": " .. tostring(rerr), "usage" end
  local head, cerr = M.check_head(h, path)
  if not head then return nil, cerr, "usage" end
  return head, lumen.sha256(src)
end

-- ---- resolving a spec ----

local function model_names_hint(name)
  local hint = M.did_you_mean(name, M.names())
  return hint and string.format(" (did you mean '%s'?)", hint) or ""
end

local function only_onnx(dir)
  local found
  for _, n in ipairs(lumen.list_dir(dir) or {}) do
    if n:match("%.onnx$") then
      if found then return nil end
      found = n
    end
  end
  return found and join(dir, found)
end

-- Where a package's parts are, without loading the network. spec: NAME | DIR | FILE.onnx |
-- FILE.lua; head_path: an explicit head file or nil. Returns where {name=, dir=, head=,
-- head_path=, head_sha256=, door=, model_file=, weights=} | nil, msg, "usage".
function M.resolve(spec, head_path)
  if type(spec) ~= "string" or spec == "" then return nil, "no model given", "usage" end
  local kind = lumen.file_type(spec)
  local w = {}
  if not kind and spec:match("^[%w_%-]+$") then
    local root = models.models_dir()
    if not root then
      return nil, "cannot find the models/ folder (set LUMEN_MODELS_DIR)", "usage"
    end
    if lumen.file_type(root .. "/" .. spec) ~= "dir" then
      return nil, string.format("no model '%s' in %s%s", spec, root, model_names_hint(spec)),
        "usage"
    end
    spec, kind = root .. "/" .. spec, "dir"
  end
  if not kind then
    return nil, string.format("no such model file or folder: %s%s", spec,
      spec:find("/") and "" or model_names_hint(spec)), "usage"
  end
  if kind == "dir" then
    w.dir = spec:gsub("/+$", "")
    w.name = basename(w.dir)
    local hp = head_path or (exists(w.dir .. "/head.lua") and w.dir .. "/head.lua")
    if hp then w.head_path = hp
    elseif exists(w.dir .. "/model.lua") then w.door, w.model_file = "lua", w.dir .. "/model.lua"
    else
      local onnx = only_onnx(w.dir)
      if not onnx then
        return nil, "model folder " .. spec .. " has no head.lua, model.lua or single .onnx file",
          "usage"
      end
      w.door, w.model_file = "onnx", onnx
    end
  elseif spec:match("%.onnx$") then
    w.dir, w.door, w.model_file = dirname(spec), "onnx", spec
    w.name = basename(spec):gsub("%.onnx$", "")
    local sib = spec:gsub("%.onnx$", ".head.lua")
    local beside = w.dir .. "/head.lua"
    w.head_path = head_path or (exists(sib) and sib) or (exists(beside) and beside) or nil
  elseif spec:match("%.lua$") then
    w.dir = dirname(spec)
    if basename(spec) == "head.lua" or spec:match("%.head%.lua$") then
      w.head_path = head_path or spec
      w.name = basename(spec) == "head.lua" and basename(w.dir)
        or basename(spec):gsub("%.head%.lua$", "")
    else
      w.door, w.model_file = "lua", spec
      w.name = basename(spec) == "model.lua" and basename(w.dir)
        or basename(spec):gsub("%.lua$", "")
      w.head_path = head_path or (exists(w.dir .. "/head.lua") and w.dir .. "/head.lua") or nil
    end
  else
    return nil, "model " .. spec .. ": expected a model name, a folder, an .onnx file or a "
      .. ".lua file", "usage"
  end
  if w.head_path then
    local head, hsha, kerr = M.read_head(w.head_path)
    if not head then return nil, hsha, kerr end
    w.head, w.head_sha256 = head, hsha
    w.name = head.name or w.name
    local hdir = dirname(w.head_path)
    local m = head.model
    if not w.model_file then -- the head says which network
      if not m then return nil, "head " .. w.head_path .. ": no 'model' and none given", "usage" end
      local door = head.door or (m.lua and "lua" or "onnx")
      w.door = door
      w.model_file = join(hdir, m[door] or m.lua or m.onnx)
      if m[door] == nil then w.door = m.lua and "lua" or "onnx" end
    end
    if w.door == "lua" and m and m.weights then w.weights = join(hdir, m.weights) end
    if not exists(w.model_file) then
      return nil, string.format("head %s: model file %s does not exist", w.head_path,
        w.model_file), "usage"
    end
    if w.weights and not exists(w.weights) then
      return nil, string.format("head %s: weights file %s does not exist", w.head_path,
        w.weights), "usage"
    end
  end
  return w
end

-- ---- rules ----

local get = require("lumen.json").get

-- Built-in rule kinds: function(pkg, thresholds, spec) -> check, message. A check sees the
-- record (plain data); segmentation statistics are under record[pkg.seg_label].
M.RULE_KINDS = {
  not_acceptable = function(p, _, _)
    local list = table.concat(p.acceptable_list or {}, ", ")
    return function(r) return r.acceptable == false end,
      "predicted class is not acceptable (acceptable: " .. (list ~= "" and list or "none") .. ")"
  end,
  -- fires for any number of classes K >= 2: the top probability can always fall below
  -- min_score when min_score > 1/K, and the margin between the top two can always be small
  low_confidence = function(_, th, s)
    local ms, mm = s.min_score or th.min_score, s.min_margin or th.min_margin
    return function(r) return r.score < ms or (r.margin ~= nil and r.margin < mm) end,
      string.format("top class probability below %g or top-2 margin below %g", ms, mm)
  end,
  min_area = function(p, th, s)
    local v = s.min or th.min_area
    return function(r) return get(r, p.seg_label, "area_fraction") < v end,
      string.format("%s area fraction below %g", p.seg_label, v)
  end,
  min_largest_share = function(p, th, s)
    local v = s.min or th.min_largest_share
    local lbl = p.seg_label
    return function(r) return r[lbl].pixels > 0 and r[lbl].largest_share < v end,
      string.format("largest connected %s component below %g of the %s area", lbl, v, lbl)
  end,
  max_probability = function(_, _, s)
    local c, v = s.class, s.max or 0.5
    return function(r) return (r.probabilities[c] or 0) > v end,
      string.format("p(%s) above %g", tostring(c), v)
  end,
}

-- The package's rules as {name=, check=, message=} with the given thresholds. Rules on a
-- segmentation are left out when the package has none; rules on classes when it has none.
function M.rules(p, thresholds)
  local th = {}
  for k, v in pairs(M.DEFAULT_THRESHOLDS) do th[k] = v end
  for k, v in pairs(thresholds or p.thresholds or {}) do th[k] = v end
  local out = {}
  for _, spec in ipairs(p.rule_specs or {}) do
    local seg_rule = spec.kind == "min_area" or spec.kind == "min_largest_share"
    local cls_rule = not seg_rule
    if (seg_rule and p.seg_output) or (cls_rule and p.class_output) then
      local check, msg = M.RULE_KINDS[spec.kind](p, th, spec)
      out[#out + 1] = { name = spec.name, check = check, message = spec.message or msg }
    end
  end
  return out
end

-- ---- the loaded package ----

local Package = {}
Package.__index = Package

-- Class probabilities from one frame's logits: softmax(logits / temperature). Returns
-- {probabilities = {name = p}, probs = {p1..pK}, class (0-based), class_name, score, margin
-- (top minus second), acceptable (boolean; nil when the head names no acceptable class)}.
function Package:classify(logits)
  local t = self.temperature
  local scaled = {}
  for i = 1, #logits do scaled[i] = logits[i] / t end
  local c = post.classify(scaled, self.classes)
  local second = 0
  for i, p in ipairs(c.probs) do
    if i ~= c.class + 1 and p > second then second = p end
  end
  c.margin = #c.probs > 1 and c.score - second or nil
  if #self.acceptable_list > 0 then c.acceptable = self.acceptable[c.class_name] == true end
  return c
end

-- The plain-words notice for a weights status (nil when validated): what every report says.
function M.notice(status, name, note)
  if status == "validated" then return nil end
  local words = M.WEIGHTS_STATUS[status] or M.WEIGHTS_STATUS.unknown
  return string.format("NOTICE: %s weights (%s): %s. Not validated; not for clinical use.",
    tostring(status or "unknown"):upper(), tostring(name), note or words)
end

-- The notice for this package's weights; nil when validated.
function Package:notice()
  return M.notice(self.weights_status, self.name, self.weights_note)
end

-- What a report says about the package (provenance): plain data.
function Package:describe()
  return { name = self.name, door = self.door, file = self.model_file, head = self.head_path,
    head_sha256 = self.head_sha256, weights_status = self.weights_status,
    weights_note = self.weights_note, intended_use = self.intended_use, classes = self.classes,
    acceptable = self.acceptable_list, temperature = self.temperature,
    input = { name = self.input_name, size = self.size, channels = self.channels },
    outputs = { classes = self.class_output, segmentation = self.seg_output } }
end

local shape_str = require("lumen.shape").str

-- A head guessed from a loaded network's inputs and outputs (see the header).
local function guess_head(m)
  local h = { input = { name = m.inputs[1].name }, outputs = {} }
  local s = m.inputs[1].shape
  if #s == 4 then h.input.size = { s[3], s[4] } end
  for _, o in ipairs(m.outputs) do
    local os = o.shape
    if #os == 2 and os[1] == 1 and os[2] > 1 and not h.outputs.classes then
      h.outputs.classes = o.name
      h.classes = {}
      for k = 1, os[2] do h.classes[k] = "class_" .. (k - 1) end
    elseif #os == 4 and os[1] == 1 and os[2] == 1 and not h.outputs.segmentation then
      h.outputs.segmentation = o.name
    end
  end
  return M.check_head(h, "(guessed)")
end

-- Loads a package: resolves spec (see M.resolve), loads the network through its door on
-- opts.ctx (or opts.device), planned at the head's input size (opts.size = N overrides it
-- with N x N), and checks the head against the network. opts: ctx | device, size, head,
-- thresholds (overrides, merged over the head's), precision ("fp32" or "fp16", as for
-- lumen.load_model). Returns a Package | nil, msg, kind.
function M.load(spec, opts)
  opts = opts or {}
  local w, err, kind = M.resolve(spec, opts.head)
  if not w then return nil, err, kind end
  local head = w.head
  local size = opts.size and { opts.size, opts.size } or (head and head.input.size)
  local lopts = { ctx = opts.ctx, device = opts.device, weights = w.weights,
                  precision = opts.precision }
  if w.door == "onnx" then
    if size and head and head.input.name then
      lopts.shapes = { [head.input.name] = { 1, head.input.channels, size[1], size[2] } }
    elseif size then
      lopts.size = size
    else
      lopts.symbolic_size = { 512, 512 } -- only for inputs with symbolic dims
    end
  else
    lopts.size = size or { 512, 512 }
  end
  local m, merr, code = models.load_model(w.model_file, lopts)
  if not m then
    -- a shape the head asks for that the network refuses is the head's mistake: a usage error
    return nil, "model " .. w.model_file .. ": " .. tostring(merr),
      code == "LUMEN_EINVAL" and lopts.shapes and "usage" or "runtime"
  end
  local guessed = false
  if not head then
    head, err = guess_head(m)
    if not head then return nil, err, "usage" end
    guessed = true
  end
  local p = setmetatable({ name = head.name or w.name, dir = w.dir, head = head,
    head_path = w.head_path, head_sha256 = w.head_sha256 or "guessed", guessed = guessed,
    door = w.door, model_file = w.model_file, weights_path = m.weights, loaded = m,
    input_name = head.input.name or m.inputs[1].name, channels = head.input.channels,
    class_output = head.outputs.classes, seg_output = head.outputs.segmentation,
    seg_label = head.segmentation.label, seg_activation = head.segmentation.activation,
    temperature = head.temperature, acceptable_list = head.acceptable, acceptable = {},
    rule_specs = head.rules, intended_use = head.intended_use,
    weights_status = head.weights.status, weights_note = head.weights.note }, Package)
  for _, c in ipairs(head.acceptable) do p.acceptable[c] = true end
  local th = {}
  for k, v in pairs(head.thresholds) do th[k] = v end
  for k, v in pairs(opts.thresholds or {}) do th[k] = v end
  p.thresholds = th
  -- check the head against the network
  local ins, outs = {}, {}
  local in_shape
  for _, t in ipairs(m.inputs) do
    ins[#ins + 1] = t.name
    if t.name == p.input_name then in_shape = t.shape end
  end
  if not in_shape then
    return nil, string.format("package %s: the head names input '%s'; the network's inputs are %s",
      p.name, p.input_name, table.concat(ins, ", ")), "usage"
  end
  if #in_shape ~= 4 then
    return nil, string.format("package %s: input '%s' is %s; QC needs [1, C, H, W]", p.name,
      p.input_name, shape_str(in_shape)), "usage"
  end
  p.size = { in_shape[3], in_shape[4] }
  p.channels = in_shape[2]
  local oshape = {}
  for _, t in ipairs(m.outputs) do
    outs[#outs + 1] = t.name
    oshape[t.name] = t.shape
  end
  for _, which in ipairs({ "class_output", "seg_output" }) do
    local o = p[which]
    if o and not oshape[o] then
      return nil, string.format("package %s: the head names output '%s'; the network's "
        .. "outputs are %s", p.name, o, table.concat(outs, ", ")), "usage"
    end
  end
  if not p.class_output and not p.seg_output then
    return nil, string.format("package %s: the head names neither a class nor a segmentation "
      .. "output (the network's outputs: %s)", p.name, table.concat(outs, ", ")), "usage"
  end
  if p.class_output then
    local s = oshape[p.class_output]
    local k = s[#s]
    p.classes = head.classes
    if not p.classes then
      p.classes = {}
      for i = 1, k do p.classes[i] = "class_" .. (i - 1) end
    end
    if #p.classes ~= k then
      return nil, string.format("package %s: %d class names for output '%s' of shape %s", p.name,
        #p.classes, p.class_output, shape_str(s)), "usage"
    end
  else
    p.classes = {}
  end
  if p.seg_output then
    local s = oshape[p.seg_output]
    if #s ~= 4 or s[2] ~= 1 then
      return nil, string.format("package %s: segmentation output '%s' is %s; expected [1, 1, H, W]",
        p.name, p.seg_output, shape_str(s)), "usage"
    end
    p.seg_same_size = s[3] == p.size[1] and s[4] == p.size[2]
  end
  -- preprocessing: a bare { "resize" } goes to the input size
  p.preprocess = {}
  for i, st in ipairs(head.input.preprocess) do
    local c = {}
    for k, v in pairs(st) do c[k] = v end
    if c[1] == "resize" and not c.size then c.size = { p.size[1], p.size[2] } end
    p.preprocess[i] = c
  end
  return p
end

M.Package = Package
return M
