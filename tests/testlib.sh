# testlib.sh - what the shell tests share (source it): a temporary folder, counters and one line
# per check. Each test ends with 'finish', which prints "N passed, N failed" and sets the status.
#
#   check DESCRIPTION EXPECTED_RC COMMAND...   runs COMMAND, output kept in $tmp/out
#   contains DESCRIPTION REGEX                 the last check's output matches (grep -E)
#   expect DESCRIPTION ACTUAL WANTED           two strings are equal
pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() {
  local desc=$1 want=$2
  shift 2
  "$@" >"$tmp/out" 2>&1
  local rc=$?
  if [ "$rc" -eq "$want" ]; then
    echo "OK   $desc (exit $rc)"
    pass=$((pass + 1))
  else
    echo "FAIL $desc: exit $rc, expected $want"
    sed 's/^/     | /' "$tmp/out" | head -30
    fail=$((fail + 1))
  fi
}

contains() {
  if grep -qE -- "$2" "$tmp/out"; then
    echo "OK   $1"
    pass=$((pass + 1))
  else
    echo "FAIL $1: output lacks /$2/"
    sed 's/^/     | /' "$tmp/out" | head -30
    fail=$((fail + 1))
  fi
}

expect() {
  if [ "$2" = "$3" ]; then
    echo "OK   $1 ($2)"
    pass=$((pass + 1))
  else
    echo "FAIL $1: got '$2', expected '$3'"
    fail=$((fail + 1))
  fi
}

finish() {
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ]
}
