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
if ! dpkg -s librdkafka-dev >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then apt-get install -y -qq librdkafka-dev >/dev/null; else sudo apt-get install -y -qq librdkafka-dev >/dev/null; fi
fi

# rdkafka_performance ships as source in librdkafka-dev's examples; it includes two librdkafka-internal headers
# Debian does not install, for a clock and min/max. Small stand-ins written here are enough.
work=$(mktemp -d)
broker_pid=""
cleanup() {
    [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/include"
cat >"$work/include/rd.h" <<'HEADER'
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
typedef int64_t rd_ts_t;
#define RD_MAX(a, b) ((a) > (b) ? (a) : (b))
#define RD_MIN(a, b) ((a) < (b) ? (a) : (b))
#define rd_snprintf snprintf
static inline rd_ts_t rd_clock(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (rd_ts_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
HEADER
printf '#pragma once\n#include "rd.h"\n' >"$work/include/rdtime.h"
source=/usr/share/doc/librdkafka-dev/examples/rdkafka_performance.c
[ -f "$source" ] || { gunzip -c "$source.gz" >"$work/rdkafka_performance.c"; source="$work/rdkafka_performance.c"; }
sed 's#"../src/rd.h"#"rd.h"#' "$source" >"$work/perf.c"
gcc -O2 -w -I"$work/include" -I/usr/include/librdkafka -o "$work/rdkafka_performance" "$work/perf.c" -lrdkafka

swift build -c release --product mock-broker --product producer-benchmark >/dev/null 2>&1 \
    || swift build -c release --product mock-broker >/dev/null && swift build -c release --product producer-benchmark >/dev/null
.build/release/mock-broker --port 0 --log-level error >"$work/broker.out" 2>"$work/broker.err" &
broker_pid=$!
for _ in $(seq 1 100); do grep -q "listening on" "$work/broker.out" 2>/dev/null && break; sleep 0.1; done
bootstrap=$(sed -n 's/^mock-broker listening on //p' "$work/broker.out")
echo "mock broker at $bootstrap; $count records of $size bytes, acks=1"

for codec in "${codecs[@]}"; do
    ours=$(.build/release/producer-benchmark --bootstrap "$bootstrap" --topic "swift-$codec-$RANDOM" --count "$count" \
        --size "$size" --acks 1 --compression "$codec" | tee /dev/stderr | sed -n 's/^RECORDS_PER_SECOND=//p')
    theirs=$("$work/rdkafka_performance" -P -t "librdkafka-$codec-$RANDOM" -b "$bootstrap" -s "$size" -c "$count" -a 1 \
        -z "$codec" -q 2>&1 | tee /dev/stderr | sed -n 's/.* \([0-9]*\) msgs\/s.*/\1/p' | tail -1)
    echo "$codec: swift-kafka ${ours} records/s, librdkafka ${theirs} records/s, ratio $(python3 -c "print(f'{$ours/$theirs:.2f}')")"
done
