#!/usr/bin/env bash
# Producer throughput: this package's producer next to librdkafka's rdkafka_performance, against the same
# mock broker, 1,000,000 records of 100 bytes, acks=1, for each codec; prints both and the ratio.
# Usage: Benchmarks/producer-benchmark.sh [codecs...]   (default: none lz4)
set -euo pipefail
cd "$(dirname "$0")/.."
codecs=("${@:-none lz4}")
read -r -a codecs <<<"${codecs[*]}"
count=1000000
size=100

scripts/install-dependencies.sh
source Benchmarks/mock-broker-for-benchmarks.sh
Benchmarks/build-rdkafka-performance.sh "$work/rdkafka_performance"
swift build -c release --static-swift-stdlib --product producer-benchmark >/dev/null
start_mock_broker
echo "mock broker at $bootstrap; $count records of $size bytes, acks=1"

for codec in "${codecs[@]}"; do
    ours=$(.build/release/producer-benchmark --bootstrap "$bootstrap" --topic "swift-$codec-$RANDOM" --count "$count" \
        --size "$size" --acks 1 --compression "$codec" | tee >(cat >&2) | sed -n 's/^RECORDS_PER_SECOND=//p')
    theirs=$("$work/rdkafka_performance" -P -t "librdkafka-$codec-$RANDOM" -b "$bootstrap" -s "$size" -c "$count" -a 1 \
        -z "$codec" -q 2>&1 | tee >(cat >&2) | sed -n 's/.* \([0-9]*\) msgs\/s.*/\1/p' | tail -1)
    echo "$codec: swift-kafka ${ours} records/s, librdkafka ${theirs} records/s, ratio $(python3 -c "print(f'{$ours/$theirs:.2f}')")"
done
