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

have_node=0
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
    have_node=1
  fi
else
  echo "note: node/npm not found: no libsignal figures"
fi

# Interleave the two so that a change in machine load hits both: round i runs
# our benchmarks once, then libsignal's; ratios are taken per round and the
# median is reported.
go test -c -o "$work/ratchet.test" ./ratchet
: > "$work/js.jsonl"
for i in $(seq "$COUNT"); do
  echo "== round $i/$COUNT: Go (ratchet) BenchmarkOneWay, BenchmarkPingPong"
  "$work/ratchet.test" -test.run '^$' -test.bench '^Benchmark(OneWay|PingPong)$' -test.benchtime "${GO_BENCHTIME:-1s}" \
    | tee -a "$work/go.txt" | grep -E '^Benchmark' || true
  if [ "$have_node" = 1 ]; then
    echo "== round $i/$COUNT: node $(node --version), @signalapp/libsignal-client@$LIBSIGNAL (${NODE_SECONDS}s per workload)"
    (cd "$NPMDIR" && node bench.mjs "$NODE_SECONDS" 2>/dev/null | tee -a "$work/js.jsonl") || echo "note: node bench failed"
  fi
done

command -v node >/dev/null || exit 0
GO_TXT="$work/go.txt" JS_JSONL="$work/js.jsonl" node -e '
const fs = require("fs");
const go = {}; // name -> metric -> [values per round]
for (const line of fs.readFileSync(process.env.GO_TXT, "utf8").split("\n")) {
  const f = line.trim().split(/\s+/);
  if (!f[0] || !f[0].startsWith("Benchmark")) continue;
  const name = f[0].replace(/^Benchmark/, "").replace(/-\d+$/, "");
  for (let i = 2; i + 1 < f.length; i += 2) ((go[name] ??= {})[f[i + 1]] ??= []).push(Number(f[i]));
}
const js = fs.readFileSync(process.env.JS_JSONL, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
const med = (a) => { a = a.filter((x) => x != null && !isNaN(x)).sort((x, y) => x - y); if (!a.length) return null; const m = a.length >> 1; return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2; };
const g = (b, m) => (go[b] && go[b][m]) || [];
const l = (k) => js.map((o) => o[k]);
const ratio = (ours, theirs, inverse) => med(ours.map((o, i) => theirs[i] == null ? null : inverse ? theirs[i] / o : o / theirs[i]));
const f = (x) => x == null ? "-" : x >= 100 ? x.toFixed(0) : x.toFixed(1);
const rx = (x) => x == null ? "-" : x.toFixed(2) + "x";
const usOW = g("OneWay/pq", "msgs/s").map((x) => 1e6 / x);
const rows = [
  ["one direction enc+dec, msgs/s (classic)", g("OneWay/classic", "msgs/s"), l("oneway_per_s"), false],
  ["one direction enc+dec, msgs/s (PQ)", g("OneWay/pq", "msgs/s"), l("oneway_per_s"), false],
  ["  µs per message enc+dec (PQ; target < 15)", usOW, l("oneway_us_per_msg"), true],
  ["ping-pong, msgs/s (classic)", g("PingPong/classic", "msgs/s"), l("pingpong_per_s"), false],
  ["ping-pong, msgs/s (PQ; target >= 1.5x)", g("PingPong/pq", "msgs/s"), l("pingpong_per_s"), false],
  ["ping-pong, msgs/s (PQ, PQInterval 3)", g("PingPong/pq-interval3", "msgs/s"), l("pingpong_per_s"), false],
];
console.log("\n== ratchet vs libsignal 0.103 (medians over " + Math.max(js.length, 1) + " interleaved rounds; ratio = median of per-round ratios, > 1: ours better)");
console.log("workload".padEnd(46) + "ours".padStart(10) + "libsignal".padStart(11) + "ratio".padStart(9));
for (const [k, o, t, inv] of rows) console.log(k.padEnd(46) + f(med(o)).padStart(10) + f(med(t)).padStart(11) + rx(js.length ? ratio(o, t, inv) : null).padStart(9));
// CPU time per message (process user+system, GC and JIT included) hardly
// depends on how busy the machine is, unlike wall time.
const cpuRows = [
  ["CPU µs/msg one direction enc+dec (classic)", g("OneWay/classic", "cpu-µs/msg"), l("oneway_cpu_us_per_msg")],
  ["CPU µs/msg one direction enc+dec (PQ)", g("OneWay/pq", "cpu-µs/msg"), l("oneway_cpu_us_per_msg")],
  ["CPU µs/msg ping-pong (classic)", g("PingPong/classic", "cpu-µs/msg"), l("pingpong_cpu_us_per_msg")],
  ["CPU µs/msg ping-pong (PQ)", g("PingPong/pq", "cpu-µs/msg"), l("pingpong_cpu_us_per_msg")],
  ["CPU µs/msg ping-pong (PQ, PQInterval 3)", g("PingPong/pq-interval3", "cpu-µs/msg"), l("pingpong_cpu_us_per_msg")],
];
for (const [k, o, t] of cpuRows) console.log(k.padEnd(46) + f(med(o)).padStart(10) + f(med(t)).padStart(11) + rx(js.length ? ratio(o, t, true) : null).padStart(9));
const oh = [
  ["overhead bytes/msg, one direction (PQ)", g("OneWay/pq", "overhead-B/msg"), l("overhead_bytes")],
  ["overhead bytes/msg, ping-pong (classic)", g("PingPong/classic", "overhead-B/msg"), l("pingpong_overhead_bytes")],
  ["overhead bytes/msg, ping-pong (PQ)", g("PingPong/pq", "overhead-B/msg"), l("pingpong_overhead_bytes")],
  ["overhead bytes/msg, ping-pong (PQ, interval 3)", g("PingPong/pq-interval3", "overhead-B/msg"), l("pingpong_overhead_bytes")],
];
for (const [k, o, t] of oh) console.log(k.padEnd(46) + f(med(o)).padStart(10) + f(med(t)).padStart(11));
'
