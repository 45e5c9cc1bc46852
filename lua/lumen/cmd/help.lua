-- lumen help [command]: lists the commands, or one command's usage.
local cli = require "lumen.cli"

local M = {
  summary = "show help for lumen or one of its commands",
  usage = "usage: lumen help [command]",
}

function M.run(args)
  if args[1] then
    local cmd = cli.load_command(args[1])
    if not cmd then
      return cli.usage_error("help", "no command '" .. args[1] .. "'"
        .. cli.did_you_mean(args[1], cli.commands))
    end
    print(cmd.usage)
    return cli.EXIT_OK
  end
  print("lumen " .. require("lumen").version .. " - OpenCL inference runtime for medical imaging\n")
  print("usage: lumen <command> [options]\n\ncommands:")
  for _, name in ipairs(cli.commands) do
    local cmd = cli.load_command(name)
    if cmd then print(string.format("  %-10s %s", name, cmd.summary)) end
  end
  print([[

environment:
  LUMEN_DEVICE      default device selector (P:D, gpu, cpu, accelerator, vendor/name substring)
  LUMEN_CACHE_DIR   program binary cache (default $XDG_CACHE_HOME/lumen or ~/.cache/lumen)
  LUMEN_KERNELS     binary-only mode: kernels file written by 'lumen compile'
  LUMEN_KERNEL_DIR  read kernels/*.cl from this folder instead of the embedded copies
  LUMEN_GEMM        force the GEMM engine: own | clblast
  LUMEN_SELFCHECK   0: skip the device self-check that qc, listen, infer and bench run on
                    first use of a device (verdict kept in the cache; 'lumen devices --check')
  LUMEN_DEBUG_SELFCHECK_FAIL  testing: families whose check is made to fail (gemm,conv,...)
  LUMEN_DEBUG_QUIRKS          testing: one quirks-table entry, FLAGS:MATCH (no_clblast:pocl)

exit codes: 0 ok, 1 some inputs failed, 2 usage error, 3 no device or runtime failure]])
  return cli.EXIT_OK
end

return M
