#!/usr/bin/env bash
# ratchet/ (issue 5) side by side with libsignal's Double Ratchet + SPQR
# (@signalapp/libsignal-client from npm, native Rust binary), measured in the
# same run on the same machine: 100-byte messages one direction
# (encrypt+decrypt) and ping-pong (every message a ratchet step), plus bytes
# of overhead per message. Ratios are ours / libsignal (> 1: ours is faster).
#
#   scripts/ratchet-libsignal-bench.sh
#   COUNT=5 NODE_SECONDS=3 scripts/ratchet-libsignal-bench.sh
#
# The npm package is installed once into a cache folder under $TMPDIR. Without
# node/npm or the registry, only the Go figures are printed.
set -euo pipefail
cd "$(dirname "$0")/.."

LIBSIGNAL=0.103.0
COUNT=${COUNT:-3}
NODE_SECONDS=${NODE_SECONDS:-2}
TMP=${TMPDIR:-/tmp}
NPMDIR="$TMP/rtcchat-ratchet-npm-libsignal-client@$LIBSIGNAL"
work=$(mktemp -d "$TMP/ratchet-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "== Go (ratchet): $COUNT runs of BenchmarkOneWay and BenchmarkPingPong"
go test -run '^$' -bench '^Benchmark(OneWay|PingPong)$' -count "$COUNT" ./ratchet \
  | tee "$work/go.txt" | grep -E '^Benchmark' || true

js='{}'
if command -v node >/dev/null && command -v npm >/dev/null; then
  if [ ! -f "$NPMDIR/node_modules/@signalapp/libsignal-client/package.json" ]; then
    inst=$(mktemp -d "$TMP/rtcchat-ratchet-npm-XXXXXX")
    printf '{"name":"rtcchat-ratchet-bench","private":true,"type":"module","dependencies":{"@signalapp/libsignal-client":"%s"}}\n' \
      "$LIBSIGNAL" > "$inst/package.json"
    if (cd "$inst" && npm install --no-audit --no-fund --loglevel=error >/dev/null 2>&1); then
      mv -T "$inst" "$NPMDIR" 2>/dev/null || rm -rf "$inst"
    else
      rm -rf "$inst"; echo "note: npm install failed (registry unreachable?): no libsignal figures"
    fi
  fi
  if [ -d "$NPMDIR/node_modules" ]; then
    cp scripts/ratchet-libsignal-bench.mjs "$NPMDIR/bench.mjs"
    echo "== node $(node --version): @signalapp/libsignal-client@$LIBSIGNAL (${NODE_SECONDS}s per workload)"
    js=$(cd "$NPMDIR" && node bench.mjs "$NODE_SECONDS" 2>/dev/null) || { echo "note: node bench failed"; js='{}'; }
    echo "$js"
  fi
else
  echo "note: node/npm not found: no libsignal figures"
fi

# Median of a Go metric for a benchmark (e.g. OneWay/pq msgs/s).
gomedian() {
  awk -v b="$1" -v u="$2" '$1 ~ "^Benchmark" b "(-[0-9]+)?$" { for (i = 2; i < NF; i++) if ($(i+1) == u) print $i }' "$work/go.txt" \
    | sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) { print "null"; exit } m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; print m }'
}
export OW_C=$(gomedian 'OneWay/classic' msgs/s) OW_P=$(gomedian 'OneWay/pq' msgs/s)
export PP_C=$(gomedian 'PingPong/classic' msgs/s) PP_P=$(gomedian 'PingPong/pq' msgs/s)
export OH_C=$(gomedian 'PingPong/classic' overhead-B/msg) OH_P=$(gomedian 'PingPong/pq' overhead-B/msg)
export OH_OW=$(gomedian 'OneWay/pq' overhead-B/msg)
export JS="$js"
if command -v node >/dev/null; then
  node -e '
const js = JSON.parse(process.env.JS || "{}"), n = (k) => Number(process.env[k]);
const f = (x) => (x == null || isNaN(x)) ? "-" : x >= 100 ? x.toFixed(0) : x.toFixed(1);
const r = (a, b) => (a && b) ? (a / b).toFixed(2) + "x" : "-";
const rows = [
  ["one direction, enc+dec msgs/s (classic)", n("OW_C"), js.oneway_per_s],
  ["one direction, enc+dec msgs/s (PQ)", n("OW_P"), js.oneway_per_s],
  ["  µs per message enc+dec (PQ; target < 15)", 1e6 / n("OW_P"), js.oneway_us_per_msg],
  ["ping-pong msgs/s (classic)", n("PP_C"), js.pingpong_per_s],
  ["ping-pong msgs/s (PQ; target >= 1.5x)", n("PP_P"), js.pingpong_per_s],
];
console.log("\n== ratchet vs libsignal (same run)");
console.log("workload".padEnd(46) + "ours".padStart(10) + "libsignal".padStart(11) + "ratio".padStart(9));
for (const [k, o, l] of rows) {
  const ratio = k.includes("µs") ? r(l, o) : r(o, l);
  console.log(k.padEnd(46) + f(o).padStart(10) + f(l).padStart(11) + ratio.padStart(9));
}
console.log("overhead bytes/msg, one direction (PQ)".padEnd(46) + f(n("OH_OW")).padStart(10) + f(js.overhead_bytes).padStart(11));
console.log("overhead bytes/msg, ping-pong (classic)".padEnd(46) + f(n("OH_C")).padStart(10) + f(js.pingpong_overhead_bytes).padStart(11));
console.log("overhead bytes/msg, ping-pong (PQ)".padEnd(46) + f(n("OH_P")).padStart(10) + f(js.pingpong_overhead_bytes).padStart(11));
'
fi
