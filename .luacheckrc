-- luacheck configuration (Debian's lua-check): `luacheck lua tests examples models` from the
-- repository root; run by ./setup.sh test next to the clang-format check.
std = "lua54"
max_line_length = 100
-- 'arg' is the script's argument table, as the standalone interpreter sets it
read_globals = { "arg" }
-- methods keep 'self' in their signature even when they do not use it
self = false
-- 'not (x <= y)' is how a comparison that must fail on NaN is written
ignore = { "581" }
