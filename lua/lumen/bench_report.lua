-- lumen.bench_report: how `lumen bench` shows what it measured: a table for the terminal, JSON
-- and CSV files, and an SVG chart written by hand (no libraries; any browser opens it).
--
-- Input: the document lumen bench builds, {lumen_version=, date=, options=, results={...},
-- peers={...}}; each result as bench_one in lua/lumen/cmd/bench.lua makes it. Missing parts
-- (a failed phase, --latency-only) are simply left out of every output.
local json = require "lumen.json"
local lumen = require "lumen"

local R = {}

local function f(fmt, ...) return string.format(fmt, ...) end
local function num(x, fmt) return x and f(fmt or "%.2f", x) or "-" end
local function mib(b) return b and lumen.format_bytes(b) or "-" end

local shape_str = require("lumen.shape").str

-- Peer rows for one result: peers whose model is the result's spec or its model name.
local function peers_for(doc, r)
  local out = {}
  for _, p in ipairs(doc.peers or {}) do
    if (p.model == r.model or p.model == r.name) and p.peer ~= "lumen" then out[#out + 1] = p end
  end
  return out
end
R.peers_for = peers_for

local function text_one(doc, r, out)
  local d = r.device
  out[#out + 1] = f("== %s on %s %s (%s) ==", r.model, d.index, d.name, r.precision or "fp32")
  out[#out + 1] = f("device      %s (%s), driver %s, %s, %d compute units @ %d MHz, memory %s, fp16 %s",
    d.name, d.platform, d.driver, d.type, d.compute_units, d.clock_mhz, mib(d.global_mem),
    d.fp16 and "yes" or "no")
  if r.error then
    out[#out + 1] = "FAILED      " .. tostring(r.error)
    if not r.latency then return end
  end
  out[#out + 1] = f("lumen       %s, precision %s, GEMM engine %s, program cache %s (%s)",
    r.lumen_version, r.precision, r.gemm_engine or "-", r.cache and r.cache.state or "-",
    r.cache and (r.cache.dir ~= "" and r.cache.dir or "off") or "-")
  if r.inputs then
    local ins, outs = {}, {}
    for _, i in ipairs(r.inputs) do ins[#ins + 1] = i.name .. " " .. shape_str(i.shape) end
    for _, o in ipairs(r.outputs) do outs[#outs + 1] = o.name .. " " .. shape_str(o.shape) end
    out[#out + 1] = f("model       %s: %s -> %s; %d nodes, %.3f GFLOP%s", r.name or r.model,
      table.concat(ins, ", "), table.concat(outs, ", "), r.stats and r.stats.nodes or 0,
      (r.stats and r.stats.flops or 0) / 1e9,
      r.params and f(", %.2f M parameters", r.params / 1e6) or "")
  end
  if r.cold then
    out[#out + 1] = "cold start  (fresh processes)                  build ms   load ms  first ms  start->result ms  process ms"
    local rows = {
      { r.cold.cold, "empty caches (POCL_KERNEL_CACHE=0)" },
      { r.cold.half, "lumen cache warm, PoCL cache empty" },
      { r.cold.warm, f("both caches warm (median of %d)", r.cold.warm_runs or 1) },
    }
    for _, row in ipairs(rows) do
      local c = row[1] or {}
      out[#out + 1] = f("  %-42s %9s %9s %9s %17s %11s%s", row[2], num(c.build_ms, "%.0f"),
        num(c.load_ms, "%.0f"), num(c.first_ms, "%.0f"), num(c.start_to_result_ms, "%.0f"),
        num(c.process_ms, "%.0f"), c.error and ("  ERROR " .. c.error) or "")
    end
  end
  out[#out + 1] = f("this process: load %s ms, first inference %s ms", num(r.load_ms, "%.0f"), num(r.first_ms, "%.0f"))
  local l = r.latency
  if l then
    out[#out + 1] = f("warm latency (%d runs after %d warm-ups): min %.2f  median %.2f  p90 %.2f  max %.2f ms",
      l.n, doc.options.warmup, l.min, l.median, l.p90, l.max)
  end
  for _, p in ipairs(peers_for(doc, r)) do
    out[#out + 1] = f("  peer %-26s median %9s ms   lumen/peer %s%s", p.peer, num(p.median_ms),
      p.median_ms and l and f("%.2fx", l.median / p.median_ms) or "-",
      p.error and ("   (" .. p.error:gsub("\n.*", "") .. ")") or "")
  end
  if r.throughput then
    local t = {}
    for _, row in ipairs(r.throughput) do
      t[#t + 1] = row.fps and f("batch %d: %.1f frames/s (%.1f ms)", row.batch, row.fps, row.ms)
        or f("batch %d: %s", row.batch, tostring(row.error))
    end
    out[#out + 1] = "throughput  " .. table.concat(t, " | ")
  end
  if r.plan then
    local p = r.plan
    out[#out + 1] = f("memory plan (%s) planned %s in %d buffers, naive %s, largest live set %s (planned/live %.2f); weights %s, io %s",
      p.precision or "fp32", mib(p.planned_bytes), p.buffers, mib(p.naive_bytes), mib(p.live_peak),
      p.live_peak > 0 and p.planned_bytes / p.live_peak or 0, mib(p.weight_bytes), mib(p.io_bytes))
  end
  if r.limits then
    local g, c = r.limits.gemm or {}, r.limits.copy or {}
    out[#out + 1] = f("limits      GEMM %d^3: %s GFLOP/s (own %s, clblast %s); copy %s GB/s (%s)",
      g.n or 0, num(g.best, "%.1f"), num(g.own, "%.1f"), num(g.clblast, "%.1f"), num(c.gbs, "%.1f"),
      c.bytes and mib(c.bytes) .. " moved" or "-")
  end
  if r.achieved then
    local a = r.achieved
    out[#out + 1] = f("achieved    %.1f GFLOP/s = %s of GEMM; %s GB/s = %s of copy bandwidth",
      a.gflops, a.gemm_share and f("%.0f%%", 100 * a.gemm_share) or "-", num(a.gbs, "%.1f"),
      a.copy_share and f("%.0f%%", 100 * a.copy_share) or "-")
  end
  if r.profile then
    local nodes = table.move(r.profile.nodes, 1, #r.profile.nodes, 1, {})
    table.sort(nodes, function(a, b) return a.ms > b.ms end)
    out[#out + 1] = f("profile     top %d of %d nodes (device time, sum %.2f ms)", math.min(15, #nodes),
      #nodes, r.profile.total_ms)
    -- each node's GFLOP/s as a share of the device's measured GEMM rate (the issue's "share of
    -- peak"), and the same over all convolution nodes together
    local peak = r.limits and r.limits.gemm and r.limits.gemm.best
    local function of_peak(gflops)
      return peak and peak > 0 and f("%5.0f%%", 100 * gflops / peak) or "     -"
    end
    out[#out + 1] = f("  %-40s %-14s %9s %6s %9s %6s %8s", "node", "op", "ms", "share", "GFLOP/s",
      "%GEMM", "GB/s")
    for i = 1, math.min(15, #nodes) do
      local n = nodes[i]
      out[#out + 1] = f("  %-40s %-14s %9.3f %5.1f%% %9.1f %s %8.1f", n.name:sub(1, 40), n.op, n.ms,
        100 * n.share, n.gflops, of_peak(n.gflops), n.gbs)
    end
    local conv_ms, conv_flops = 0, 0
    for _, n in ipairs(nodes) do
      if n.op == "conv" then conv_ms, conv_flops = conv_ms + n.ms, conv_flops + n.flops end
    end
    if conv_ms > 0 then
      out[#out + 1] = f("  conv layers together: %.3f GFLOP in %.2f ms = %.1f GFLOP/s =%s of GEMM",
        conv_flops / 1e9, conv_ms, conv_flops / conv_ms / 1e6, of_peak(conv_flops / conv_ms / 1e6))
    end
    local by_op, ops = {}, {}
    for _, n in ipairs(nodes) do
      if not by_op[n.op] then by_op[n.op] = { op = n.op, ms = 0, count = 0 }; ops[#ops + 1] = by_op[n.op] end
      by_op[n.op].ms = by_op[n.op].ms + n.ms
      by_op[n.op].count = by_op[n.op].count + 1
    end
    table.sort(ops, function(a, b) return a.ms > b.ms end)
    local t = {}
    for _, o in ipairs(ops) do
      t[#t + 1] = f("%s %.1f%% (%d)", o.op, 100 * o.ms / math.max(r.profile.total_ms, 1e-9), o.count)
    end
    out[#out + 1] = "  by op: " .. table.concat(t, ", ")
  end
  out[#out + 1] = ""
end

-- The terminal table for the whole document.
-- fp16 next to fp32 for every model and device measured in both: memory plan and latency.
local function precision_table(doc, out)
  local fp32 = {}
  for _, r in ipairs(doc.results) do
    if r.precision == "fp32" then fp32[r.model .. "@" .. r.device.index] = r end
  end
  for _, r in ipairs(doc.results) do
    local b = r.precision == "fp16" and fp32[r.model .. "@" .. r.device.index]
    if b and r.plan and b.plan then
      if #out > 0 and out[#out] ~= "" then out[#out + 1] = "" end
      out[#out + 1] = f("fp16 vs fp32 %s on %s: memory plan %s vs %s (%.2fx), weights %s vs %s, "
        .. "median latency %s vs %s ms", r.model, r.device.index, mib(r.plan.planned_bytes),
        mib(b.plan.planned_bytes), b.plan.planned_bytes > 0 and r.plan.planned_bytes
          / b.plan.planned_bytes or 0, mib(r.plan.weight_bytes), mib(b.plan.weight_bytes),
        num(r.latency and r.latency.median), num(b.latency and b.latency.median))
    end
  end
end

function R.text(doc)
  local out = { f("lumen bench %s, %s; %d runs after %d warm-ups", doc.lumen_version, doc.date,
    doc.options.runs, doc.options.warmup), "" }
  for _, r in ipairs(doc.results) do text_one(doc, r, out) end
  precision_table(doc, out)
  return table.concat(out, "\n") .. "\n"
end

-- ---- CSV ----

local function csv_field(v)
  if v == nil then return "" end
  if type(v) == "number" then return math.type(v) == "integer" and tostring(v) or f("%.6g", v) end
  v = tostring(v)
  if v:find('[,"\n]') then return '"' .. v:gsub('"', '""') .. '"' end
  return v
end

-- n: the number of fields (t may have holes: absent values are empty fields)
local function csv_line(t, n)
  local o = {}
  for i = 1, n or #t do o[i] = csv_field(t[i]) end
  return table.concat(o, ",")
end

-- One row per model x device.
function R.csv(doc)
  local batches = doc.options.batch or {}
  local head = { "model", "device", "device_name", "driver", "precision", "runs", "warmup",
                 "min_ms", "median_ms", "p90_ms", "max_ms", "load_ms", "first_ms",
                 "cold_build_ms", "cold_start_to_result_ms", "half_warm_start_to_result_ms",
                 "warm_build_ms", "warm_start_to_result_ms" }
  for _, b in ipairs(batches) do head[#head + 1] = "fps_batch" .. b end
  for _, k in ipairs({ "planned_bytes", "naive_bytes", "live_peak_bytes", "gemm_gflops",
                       "copy_gbs", "achieved_gflops", "gemm_share", "achieved_gbs", "copy_share",
                       "error" }) do head[#head + 1] = k end
  local lines = { csv_line(head) }
  for _, r in ipairs(doc.results) do
    local l, c, p = r.latency or {}, r.cold or {}, r.plan or {}
    local cc, ch, cw = c.cold or {}, c.half or {}, c.warm or {}
    local g = r.limits and r.limits.gemm or {}
    local cp = r.limits and r.limits.copy or {}
    local a = r.achieved or {}
    local row, n = {}, 0
    local function put(v) n = n + 1; row[n] = v end -- explicit count: values may be nil
    for _, v in ipairs({ "model", "index", "name", "driver", "precision" }) do
      put(v == "model" and r.model or v == "precision" and r.precision or r.device[v])
    end
    put(l.n); put(doc.options.warmup); put(l.min); put(l.median); put(l.p90); put(l.max)
    put(r.load_ms); put(r.first_ms); put(cc.build_ms); put(cc.start_to_result_ms); put(ch.start_to_result_ms)
    put(cw.build_ms); put(cw.start_to_result_ms)
    for _, b in ipairs(batches) do
      local fps
      for _, t in ipairs(r.throughput or {}) do if t.batch == b then fps = t.fps end end
      put(fps)
    end
    put(p.planned_bytes); put(p.naive_bytes); put(p.live_peak); put(g.best); put(cp.gbs)
    put(a.gflops); put(a.gemm_share); put(a.gbs); put(a.copy_share); put(r.error)
    lines[#lines + 1] = csv_line(row, #head)
  end
  return table.concat(lines, "\n") .. "\n"
end

-- Every profiled node of every result, in execution order.
function R.profile_csv(doc)
  local lines = { "model,device,index,name,op,shape,ms,share,gflops,gbs,flops,bytes" }
  for _, r in ipairs(doc.results) do
    for i, n in ipairs(r.profile and r.profile.nodes or {}) do
      lines[#lines + 1] = csv_line({ r.model, r.device.index, i, n.name, n.op, shape_str(n.shape),
        n.ms, n.share, n.gflops, n.gbs, n.flops, n.bytes }, 12)
    end
  end
  return table.concat(lines, "\n") .. "\n"
end

-- ---- SVG ----

local function esc(s)
  return (tostring(s):gsub("[&<>\"]", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;" }))
end

-- A horizontal bar chart: rows {label=, value=, lo=, hi=, color=, note=} at y0; returns height.
local function bars(out, y0, title, unit, rows, width)
  local label_w, bar_w, row_h = 330, width - 330 - 150, 20
  local max = 0
  for _, r in ipairs(rows) do max = math.max(max, r.hi or r.value or 0, r.value or 0) end
  if max <= 0 then max = 1 end
  out[#out + 1] = f('<text x="10" y="%d" class="title">%s</text>', y0 + 16, esc(title))
  local y = y0 + 28
  for _, r in ipairs(rows) do
    local w = (r.value or 0) / max * bar_w
    out[#out + 1] = f('<text x="%d" y="%d" class="label" text-anchor="end">%s</text>', label_w - 6,
      y + 14, esc(r.label))
    out[#out + 1] = f('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s</title></rect>',
      label_w, y + 3, w, row_h - 6, r.color or "#4477aa", esc(r.label .. ": " .. num(r.value, "%.3f") .. " " .. unit))
    if r.lo and r.hi then
      local x1, x2 = label_w + r.lo / max * bar_w, label_w + r.hi / max * bar_w
      out[#out + 1] = f('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" class="whisker"/>', x1, x2, y + 10, y + 10)
    end
    out[#out + 1] = f('<text x="%.1f" y="%d" class="value">%s %s%s</text>', label_w + w + 4, y + 14,
      num(r.value, r.value and r.value < 10 and "%.2f" or "%.1f"), unit, r.note and esc(" " .. r.note) or "")
    y = y + row_h
  end
  return y - y0 + 10
end

local PALETTE = { "#4477aa", "#66ccee", "#228833", "#ccbb44", "#ee6677", "#aa3377", "#bbbbbb" }

function R.svg(doc)
  local width, body, y = 1000, {}, 10
  -- 1: latency per (model, device) and per peer
  local rows = {}
  for _, r in ipairs(doc.results) do
    if r.latency then
      rows[#rows + 1] = { label = f("lumen %s on %s", r.name or r.model, r.device.name:sub(1, 24)),
                          value = r.latency.median, lo = r.latency.min, hi = r.latency.p90, color = PALETTE[1] }
      for i, p in ipairs(peers_for(doc, r)) do
        if p.median_ms then
          rows[#rows + 1] = { label = f("%s %s", p.peer, r.name or r.model), value = p.median_ms,
                              lo = p.min_ms, hi = p.max_ms, color = PALETTE[1 + (i % (#PALETTE - 1)) + 0],
                              note = f("(lumen/peer %.2fx)", r.latency.median / p.median_ms) }
        end
      end
    end
  end
  y = y + bars(body, y, "Median latency, batch 1 (whisker: min to p90 for lumen, min to max of the rounds' medians for peers)", "ms", rows, width)
  -- 2: per-node profile of each result
  for _, r in ipairs(doc.results) do
    if r.profile then
      local nodes = table.move(r.profile.nodes, 1, #r.profile.nodes, 1, {})
      table.sort(nodes, function(a, b) return a.ms > b.ms end)
      local prow = {}
      local colors, next_color = {}, 1
      for i = 1, math.min(15, #nodes) do
        local n = nodes[i]
        if not colors[n.op] then
          colors[n.op] = PALETTE[next_color]
          next_color = next_color % #PALETTE + 1
        end
        prow[#prow + 1] = { label = f("%s (%s)", n.name:sub(1, 36), n.op), value = n.ms, color = colors[n.op],
                            note = f("%.1f%%, %.1f GFLOP/s", 100 * n.share, n.gflops) }
      end
      y = y + bars(body, y, f("Per-node profile: %s on %s (top %d of %d nodes, device time)", r.name or r.model,
        r.device.name, #prow, #nodes), "ms", prow, width)
    end
  end
  local head = {
    f('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif">', width, y + 20, width, y + 20),
    '<style>.title{font-size:14px;font-weight:bold}.label,.value{font-size:11px}.whisker{stroke:#222;stroke-width:1.5}</style>',
    f('<rect width="%d" height="%d" fill="white"/>', width, y + 20),
    f('<text x="10" y="%d" font-size="10" fill="#555">lumen %s, %s</text>', y + 12, esc(doc.lumen_version), esc(doc.date)),
  }
  return table.concat(head, "\n") .. "\n" .. table.concat(body, "\n") .. "\n</svg>\n"
end

-- ---- files ----

local function write(path, s)
  local ok, err = require("lumen").write_file(path, s)
  if not ok then return nil, err end
  return path
end

-- Writes DIR/bench.json, DIR/bench.csv, DIR/profile.csv (and DIR/bench.svg with plot).
-- Returns the list of paths | nil, msg.
function R.write_files(doc, dir, plot)
  local mok, merr = require("lumen").mkdir(dir)
  if not mok then return nil, merr end
  local files = {
    { dir .. "/bench.json", function() return json.encode(doc) .. "\n" end },
    { dir .. "/bench.csv", function() return R.csv(doc) end },
    { dir .. "/profile.csv", function() return R.profile_csv(doc) end },
  }
  if plot then files[#files + 1] = { dir .. "/bench.svg", function() return R.svg(doc) end } end
  local done = {}
  for _, fl in ipairs(files) do
    local p, err = write(fl[1], fl[2]())
    if not p then return nil, err end
    done[#done + 1] = p
  end
  return done
end

return R
