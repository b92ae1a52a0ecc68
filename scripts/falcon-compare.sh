#!/usr/bin/env bash
# FALCON-1024 side by side: our Go GenerateKey/Sign/Verify against liboqs-js
# (liboqs compiled to WebAssembly) and @noble/post-quantum, measured in the same
# run on the same machine. Go and node take turns for $ROUNDS rounds, so a
# change in machine load hits both; each figure is the median of individually
# timed operations (median over rounds of per-round medians). Ratios are
# theirs / ours: > 1 means ours is faster.
#
#   scripts/falcon-compare.sh                 # ROUNDS=3, 1s per Go benchmark, 1s per JS operation
#   ROUNDS=5 GO_BENCHTIME=2s NODE_SECONDS=2 scripts/falcon-compare.sh
#
# The npm packages are installed once into a cache folder under $TMPDIR, the
# same one handshake/falcon's TestInterop uses. Without node/npm or the
# registry, only the Go figures are printed.
set -euo pipefail
cd "$(dirname "$0")/.."

LIBOQS_JS=0.15.1
NOBLE=0.7.1
ROUNDS=${ROUNDS:-3}
GO_BENCHTIME=${GO_BENCHTIME:-1s}
NODE_SECONDS=${NODE_SECONDS:-1}
TMP=${TMPDIR:-/tmp}
NPMDIR="$TMP/rtcchat-falcon-npm-liboqs-js@$LIBOQS_JS-noble-pq@$NOBLE"
work=$(mktemp -d "$TMP/falcon-compare.XXXXXX")
trap 'rm -rf "$work"' EXIT

go test -c -o "$work/falcon.test" ./handshake/falcon

have_js=0
if command -v node >/dev/null && command -v npm >/dev/null; then
  if [ ! -f "$NPMDIR/node_modules/@oqs/liboqs-js/package.json" ] || [ ! -f "$NPMDIR/node_modules/@noble/post-quantum/falcon.js" ]; then
    inst=$(mktemp -d "$TMP/rtcchat-falcon-npm-XXXXXX")
    printf '{"name":"rtcchat-falcon-interop","private":true,"type":"module","dependencies":{"@oqs/liboqs-js":"%s","@noble/post-quantum":"%s"}}\n' \
      "$LIBOQS_JS" "$NOBLE" > "$inst/package.json"
    if (cd "$inst" && npm install --no-audit --no-fund --loglevel=error >/dev/null 2>&1); then
      mv -T "$inst" "$NPMDIR" 2>/dev/null || rm -rf "$inst"
    else
      rm -rf "$inst"; echo "note: npm install failed (registry unreachable?): no JS figures"
    fi
  fi
  if [ -f "$NPMDIR/node_modules/@oqs/liboqs-js/package.json" ]; then
    cp handshake/falcon/interop/bench.mjs "$NPMDIR/bench.mjs"
    have_js=1
  fi
else
  echo "note: node/npm not found: no JS figures"
fi

echo "== FALCON-1024: $ROUNDS rounds of Go (handshake/falcon, -benchtime $GO_BENCHTIME)" \
  "$([ $have_js = 1 ] && echo "and node $(node --version) (@oqs/liboqs-js@$LIBOQS_JS, @noble/post-quantum@$NOBLE, ${NODE_SECONDS}s per operation)")"
: > "$work/js.jsonl"
for r in $(seq "$ROUNDS"); do
  (cd handshake/falcon && "$work/falcon.test" -test.run '^$' -test.bench '^BenchmarkCompare' -test.benchtime "$GO_BENCHTIME") \
    | grep -E '^Benchmark' | tee -a "$work/go.txt"
  if [ $have_js = 1 ]; then
    (cd "$NPMDIR" && node bench.mjs "$NODE_SECONDS") | tee -a "$work/js.jsonl" || echo "note: node bench failed in round $r"
  fi
done

if command -v node >/dev/null; then
  node handshake/falcon/interop/report.mjs "$work/go.txt" "$work/js.jsonl"
fi
