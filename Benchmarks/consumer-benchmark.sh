#!/usr/bin/env bash
# Consumer throughput: this package's consumer next to librdkafka's `rdkafka_performance -C`, reading the same
# 1,000,000 records of 100 bytes from the same mock broker, for each codec; prints both and the ratio.
# Usage: Benchmarks/consumer-benchmark.sh [codecs...]   (default: none lz4)
set -euo pipefail
cd "$(dirname "$0")/.."
codecs=("${@:-none lz4}")
read -r -a codecs <<<"${codecs[*]}"
count=1000000

scripts/install-dependencies.sh
source Benchmarks/mock-broker-for-benchmarks.sh
Benchmarks/build-rdkafka-performance.sh "$work/rdkafka_performance"
swift build -c release --static-swift-stdlib --product producer-benchmark >/dev/null
swift build -c release --static-swift-stdlib --product consumer-benchmark >/dev/null
start_mock_broker
echo "mock broker at $bootstrap; $count records of 100 bytes per topic"

for codec in "${codecs[@]}"; do
    topic="consume-$codec-$RANDOM"
    .build/release/producer-benchmark --bootstrap "$bootstrap" --topic "$topic" --count "$count" --size 100 --acks 1 \
        --compression "$codec" >/dev/null
    theirs=$("$work/rdkafka_performance" -C -t "$topic" -p 0 -o beginning -c "$count" -b "$bootstrap" -q 2>&1 \
        | tee >(cat >&2) | sed -n 's/.* \([0-9]*\) msgs\/s.*/\1/p' | tail -1)
    ours=$(.build/release/consumer-benchmark --bootstrap "$bootstrap" --topic "$topic" --count "$count" \
        | tee >(cat >&2) | sed -n 's/^RECORDS_PER_SECOND=//p')
    one_by_one=$(.build/release/consumer-benchmark --bootstrap "$bootstrap" --topic "$topic" --count "$count" --records \
        | tee >(cat >&2) | sed -n 's/^RECORDS_PER_SECOND=//p')
    echo "$codec: librdkafka ${theirs} records/s;" \
        "swift-kafka batches ${ours} records/s (ratio $(python3 -c "print(f'{$ours/$theirs:.2f}')"))," \
        "one record at a time ${one_by_one} records/s (ratio $(python3 -c "print(f'{$one_by_one/$theirs:.2f}')"))"
done
