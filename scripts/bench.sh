#!/usr/bin/env bash
# Prints the benchmark figures the issues ask for. Each package's benchmarks
# measure their own baseline (raw pion, liboqs-js, ...) in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -run '^$' -bench . -benchmem -benchtime ${BENCHTIME:-1s} ./... 2>&1 | tee /tmp/rtcchat-bench.txt
# FALCON-1024 against liboqs-js and noble, side by side (handshake/falcon, issue 3).
scripts/falcon-compare.sh
# Double Ratchet + ML-KEM ratchet against libsignal 0.103 (Node), side by side (ratchet, issue 5).
scripts/ratchet-libsignal-bench.sh
