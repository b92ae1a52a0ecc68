#!/usr/bin/env bash
# Prints the benchmark figures the issues ask for. Each package's benchmarks
# measure their own baseline (raw pion, liboqs-js, ...) in the same run.
# The last part (issue 8) runs rtcchat and raw pion between two processes on
# loopback, prints one table with the ratios and writes bench.json.
# Budget: 10 minutes on a 2-core machine (the whole script prints its time).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
go test -run '^$' -bench . -benchmem -benchtime ${BENCHTIME:-1s} ./... 2>&1 | tee /tmp/rtcchat-bench.txt
# FALCON-1024 against liboqs-js and noble, side by side (handshake/falcon, issue 3).
scripts/falcon-compare.sh
# Double Ratchet + ML-KEM ratchet against libsignal 0.103 (Node), side by side (ratchet, issue 5).
scripts/ratchet-libsignal-bench.sh
# Two processes, rtcchat vs raw pion in the same run, plus a summary of the
# ratchet, handshake and FALCON-1024 micro-benchmarks above (issue 8).
go build -o bin/rtcchat-bench ./bench/cmd/rtcchat-bench
bin/rtcchat-bench -gobench /tmp/rtcchat-bench.txt -out bench.json ${BENCH_FLAGS:-}
echo "make bench: $((SECONDS - start)) s (load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a))"
