#!/usr/bin/env bash
# FALCON-1024 side by side: our Go GenerateKey/Sign/Verify against liboqs-js
# (liboqs in WebAssembly) and @noble/post-quantum, measured in the same run on
# the same machine. Prints medians (ms) and ratios (theirs / ours: > 1 means
# ours is faster).
#
#   scripts/falcon-compare.sh            # defaults: COUNT=5 runs of each Go benchmark
#   COUNT=9 NODE_SECONDS=4 scripts/falcon-compare.sh
#
# The npm packages are installed once into a cache folder under $TMPDIR, the
# same one handshake/falcon's TestInterop uses. Without node/npm or the
# registry, only the Go figures are printed.
set -euo pipefail
cd "$(dirname "$0")/.."

LIBOQS_JS=0.15.1
NOBLE=0.7.1
COUNT=${COUNT:-5}
NODE_SECONDS=${NODE_SECONDS:-2}
TMP=${TMPDIR:-/tmp}
NPMDIR="$TMP/rtcchat-falcon-npm-liboqs-js@$LIBOQS_JS-noble-pq@$NOBLE"
work=$(mktemp -d "$TMP/falcon-compare.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- Go benchmarks: median ns/op over $COUNT runs of each.
echo "== Go (handshake/falcon): $COUNT runs of each benchmark"
go test -run '^$' -bench '^Benchmark(GenerateKey|Sign|Verify)$' -count "$COUNT" ./handshake/falcon \
  | tee "$work/go.txt" | grep -E '^Benchmark' || true
gomedian() { # benchmark name -> median ms, or "-" if absent
  awk -v b="$1" '$1 ~ "^Benchmark" b "(-[0-9]+)?$" { for (i = 2; i < NF; i++) if ($(i+1) == "ns/op") print $i }' "$work/go.txt" \
    | sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) { print "-"; exit } m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.4f\n", m / 1e6 }'
}
go_keygen=$(gomedian GenerateKey); go_sign=$(gomedian Sign); go_verify=$(gomedian Verify)

# --- node: liboqs-js and noble.
js='{}'
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
  if [ -d "$NPMDIR/node_modules" ]; then
    cp handshake/falcon/interop/bench.mjs "$NPMDIR/bench.mjs"
    echo "== node $(node --version): @oqs/liboqs-js@$LIBOQS_JS, @noble/post-quantum@$NOBLE (${NODE_SECONDS}s per operation)"
    js=$(cd "$NPMDIR" && node bench.mjs "$NODE_SECONDS" 2>/dev/null) || { echo "note: node bench failed"; js='{}'; }
  fi
else
  echo "note: node/npm not found: no JS figures"
fi

# --- Table.
GO_KEYGEN=$go_keygen GO_SIGN=$go_sign GO_VERIFY=$go_verify JS="$js" node -e '
const js = JSON.parse(process.env.JS || "{}");
const go = { keygen: process.env.GO_KEYGEN, sign: process.env.GO_SIGN, verify: process.env.GO_VERIFY };
const f = (x) => (x === undefined || x === "-" || Number.isNaN(+x)) ? "-" : (+x < 1 ? (+x).toFixed(4) : (+x).toFixed(2));
const r = (a, b) => (a === undefined || b === "-" || !(+b > 0)) ? "-" : (a / +b).toFixed(2) + "x";
console.log("");
console.log("FALCON-1024 medians in ms (ratio = theirs / ours; > 1 means Go is faster)");
console.log(["op", "go", "liboqs-js", "noble", "liboqs/go", "noble/go"].map((s, i) => i ? s.padStart(11) : s.padEnd(8)).join(""));
for (const op of ["keygen", "sign", "verify"]) {
  const l = js.liboqs?.[op + "_ms"], n = js.noble?.[op + "_ms"];
  console.log([op.padEnd(8), f(go[op]), f(l), f(n), r(l, go[op]), r(n, go[op])].map((s, i) => i ? String(s).padStart(11) : s).join(""));
}
' 2>/dev/null || printf 'go medians (ms): keygen %s sign %s verify %s\n' "$go_keygen" "$go_sign" "$go_verify"
