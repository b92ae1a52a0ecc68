#!/usr/bin/env bash
# Runs every fuzz target in the module for $FUZZTIME each (default 30s).
# Crashers are written by go test into the package's testdata/fuzz and then
# replayed as regression cases by every plain `go test`.
#
# `go test -fuzz` accepts one target per invocation and links a new
# instrumented test binary each time; instead this script builds one
# instrumented binary per package (`go test -c -fuzz`, which instruments the
# whole package and serves all of its targets) and runs it once per target
# from the package directory, as go test would (the corpus and new crashers
# live in the package's testdata/fuzz, the generated corpus in GOCACHE).
# FUZZPARALLEL (default 1) runs that many targets at once; FUZZWORKERS is the
# number of fuzzing workers per target (default: 1 when targets run in
# parallel, else the number of CPUs). The total time is printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-30s}
FUZZPARALLEL=${FUZZPARALLEL:-1}
if [ "$FUZZPARALLEL" -gt 1 ]; then FUZZWORKERS=${FUZZWORKERS:-1}; else FUZZWORKERS=${FUZZWORKERS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}; fi
start=$SECONDS
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cache=$(go env GOCACHE)/fuzz
jobs=()
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  targets=$(grep -hoE '^func (Fuzz[A-Za-z0-9_]+)\(f \*testing\.F\)' "$dir"/*_test.go 2>/dev/null | sed -E 's/^func (Fuzz[A-Za-z0-9_]+).*/\1/' | sort -u || true)
  [ -n "$targets" ] || continue
  bin="$work/$(echo "$pkg" | tr / _).test"
  first=$(echo "$targets" | head -n1)
  if ! go test -c -fuzz "^${first}\$" -o "$bin" "$pkg" >"$work/build.log" 2>&1; then
    echo "fuzz: building $pkg failed"; cat "$work/build.log"; exit 1
  fi
  for t in $targets; do jobs+=("$pkg $dir $bin $t"); done
done
# Go's fuzzing engine sometimes ends a very short run with "context deadline
# exceeded" although no input failed (it writes no crasher then), more often
# when the machine is busy. Such a run is retried, up to three runs in all; a
# real failure always writes "Failing input written to testdata/fuzz/..." and
# fails the script at once.
run_one() {
  local pkg=$1 dir=$2 bin=$3 t=$4 log try
  log=$(mktemp)
  for try in 1 2 3; do
    if (cd "$dir" && "$bin" -test.run='^$' -test.fuzz="^${t}\$" -test.fuzztime="$FUZZTIME" \
          -test.parallel="$FUZZWORKERS" -test.fuzzcachedir="$cache/$pkg") >"$log" 2>&1; then
      echo "fuzz $pkg $t ($FUZZTIME): ok"; rm -f "$log"; return 0
    fi
    if [ "$try" -lt 3 ] && grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"; then
      echo "fuzz $pkg $t: the engine timed out without a failing input; running it again"
      continue
    fi
    break
  done
  echo "fuzz $pkg $t ($FUZZTIME): FAILED"; cat "$log"; rm -f "$log"; return 1
}
export -f run_one; export FUZZTIME FUZZWORKERS cache
status=0
[ ${#jobs[@]} -eq 0 ] || printf '%s\n' "${jobs[@]}" | xargs -P "$FUZZPARALLEL" -L 1 bash -c 'run_one $0 $1 $2 $3' || status=1
echo "fuzz: ${#jobs[@]} targets, $FUZZTIME each, $((SECONDS - start)) s in total"
exit $status
