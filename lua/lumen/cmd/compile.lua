-- lumen compile --device D -o kernels.bin: every kernel program of the runtime, built for one
-- device, in one file. With LUMEN_KERNELS=kernels.bin the runtime then runs from that file alone
-- (no source, no compiler): the flow for FPGA-style binary-only devices.
local lumen = require "lumen"
local cli = require "lumen.cli"

local M = {
  summary = "build all kernels for a device into one binary file (binary-only mode)",
  usage = [[usage: lumen compile [--device D] -o FILE

Builds every kernel program for device D (default: LUMEN_DEVICE or the best device) and
writes the device binaries into FILE. Run with LUMEN_KERNELS=FILE to load kernels only from it.

  --device D       P:D index, gpu, cpu, accelerator, or a vendor/name substring
  -o, --output F   the file to write (written atomically)]],
}

function M.run(args)
  local opts, pos = cli.parse(args, { device = "string", output = "string" })
  if not opts then return cli.usage_error("compile", pos) end
  if #pos > 0 then return cli.usage_error("compile", "unexpected argument '" .. pos[1] .. "'") end
  if not opts.output then return cli.usage_error("compile", "missing -o FILE") end
  -- compile from source even when LUMEN_KERNELS is set in the environment
  local ctx, err = lumen.context(opts.device, { kernels = "" })
  if not ctx then return cli.runtime_error("compile", err) end
  local ok, cerr = ctx:compile(opts.output)
  if not ok then
    ctx:close()
    return cli.runtime_error("compile", cerr)
  end
  local s = ctx:cache_stats()
  print(string.format("wrote %s for %s (%s): %d programs (%d compiled, %d from cache) in %.0f ms",
    opts.output, ctx:device().name, ctx:device().index, s.disk_hits + s.disk_misses,
    s.disk_misses, s.disk_hits, s.build_ms))
  ctx:close()
  return cli.EXIT_OK
end

return M
