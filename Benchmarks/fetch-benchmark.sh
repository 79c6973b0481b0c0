#!/usr/bin/env bash
# Fetch throughput of the mock broker next to what the loopback interface itself carries (iperf3), on this machine.
# Usage: Benchmarks/fetch-benchmark.sh [fetch-benchmark options, e.g. --size-mb 2048]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-dependencies.sh
command -v iperf3 >/dev/null || { [ "$(id -u)" -eq 0 ] && apt-get install -y -qq iperf3 >/dev/null || sudo apt-get install -y -qq iperf3 >/dev/null; }

swift build -c release --static-swift-stdlib --product fetch-benchmark >/dev/null
echo "== mock broker fetch (sendfile) =="
zero_copy=$(.build/release/fetch-benchmark "$@" | tee >(cat >&2) | sed -n 's/^FETCH_MBPS=//p')
echo "== mock broker fetch (records copied through memory, for comparison) =="
copied=$(.build/release/fetch-benchmark --copy "$@" | tee >(cat >&2) | sed -n 's/^FETCH_MBPS=//p')

echo "== iperf3, one TCP stream on loopback =="
port=$((20000 + RANDOM % 20000))
iperf3 -s -1 -p "$port" >/dev/null 2>&1 &
server=$!
sleep 0.5
iperf=$(iperf3 -c 127.0.0.1 -p "$port" -t 5 -J | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/8e6))')
wait "$server" 2>/dev/null || true
echo "iperf3: ${iperf} MB/s"
echo
echo "fetch (sendfile): ${zero_copy} MB/s = $(python3 -c "print(f'{${zero_copy}/${iperf}:.2f}')") x iperf3"
echo "fetch (copied):   ${copied} MB/s = $(python3 -c "print(f'{${copied}/${iperf}:.2f}')") x iperf3"
