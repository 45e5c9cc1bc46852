# testlib.sh - what the shell tests share (source it): a temporary folder, counters and one line
# per check. Each test ends with 'finish', which prints "N passed, N failed" and sets the status.
#
#   check DESCRIPTION EXPECTED_RC COMMAND...   runs COMMAND, output kept in $tmp/out
#   contains DESCRIPTION REGEX                 the last check's output matches (grep -E)
#   expect DESCRIPTION ACTUAL WANTED           two strings are equal
#   ok DESCRIPTION, bad DESCRIPTION            a result checked by the test itself
pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ok DESCRIPTION / bad DESCRIPTION [OUTPUT?]: count and print one result; with a second argument
# bad also shows the last check's output.
ok() {
  echo "OK   $1"
  pass=$((pass + 1))
}

bad() {
  echo "FAIL $1"
  [ $# -gt 1 ] && sed 's/^/     | /' "$tmp/out" | head -30
  fail=$((fail + 1))
}

check() {
  local desc=$1 want=$2
  shift 2
  "$@" >"$tmp/out" 2>&1
  local rc=$?
  if [ "$rc" -eq "$want" ]; then
    ok "$desc (exit $rc)"
  else
    bad "$desc: exit $rc, expected $want" output
  fi
}

contains() {
  if grep -qE -- "$2" "$tmp/out"; then ok "$1"; else bad "$1: output lacks /$2/" output; fi
}

expect() {
  if [ "$2" = "$3" ]; then ok "$1 ($2)"; else bad "$1: got '$2', expected '$3'"; fi
}

finish() {
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ]
}
