# Shared helpers for the CLI tests (sourced). Each check counts as one passed or failed test;
# `finish` prints the closing "N passed, N failed" line and sets the exit status.
passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
# expect EXIT_CODE DESCRIPTION -- command...   (stdout in $work/out, stderr in $work/err)
expect() {
  local want=$1 what=$2
  shift 3
  "$@" >"$work/out" 2>"$work/err"
  local got=$?
  if [[ $got -eq $want ]]; then ok; else bad "$what: exit $got, wanted $want; out: $(head -c 300 "$work/out") err: $(head -c 400 "$work/err")"; fi
}
contains() { if grep -qF -- "$2" "$1"; then ok; else bad "$3: '$2' not in $(head -c 400 "$1")"; fi; }
lacks() { if grep -qF -- "$2" "$1"; then bad "$3: '$2' must not appear"; else ok; fi; }
check() { if eval "$2"; then ok; else bad "$1"; fi; }
finish() {
  echo "$passed passed, $failed failed"
  [[ $failed -eq 0 ]]
}
