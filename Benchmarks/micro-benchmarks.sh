#!/usr/bin/env bash
# Micro-benchmarks of the record path (Benchmarks/Micro, ordo-one/benchmark): batch encode/decode per codec,
# record iteration, the producer's append and the consumer's iteration, with allocation counts.
#
# Usage: Benchmarks/micro-benchmarks.sh [run|check|update] [--time] [benchmark plugin options...]
#   run     run and print every benchmark (the default)
#   check   run and compare with the committed baseline (Benchmarks/Micro/.benchmarkBaselines/*/default):
#           allocation counts only, or every metric with --time (time is only comparable with a baseline
#           recorded on the same machine). Exits 2 when a metric is worse than its threshold allows,
#           0 when within them or only better (then record the new baseline).
#   update  run and record the baseline (then commit Benchmarks/Micro/.benchmarkBaselines)
# Plugin options go through, e.g. `--target RecordBatches`, `--filter 'Batch encode.*'`, `--scale` (counts and
# times per iteration instead of per record), `--allocation-stacks` (with run: where each allocation comes from).
#
# Never part of CI: these are separate executables measuring time, not tests.
set -euo pipefail
cd "$(dirname "$0")/.."
package=(--package-path Benchmarks/Micro)

command="${1:-run}"
[ "$#" -gt 0 ] && shift
with_time=false
options=()
for argument in "$@"; do
    if [ "$argument" = "--time" ]; then with_time=true; else options+=("$argument"); fi
done

command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"

# The codec libraries the root package links. Nothing else: allocation counts come from ordo-one's malloc
# interposer (a Swift package, the MallocInterposer trait), so jemalloc is not needed with Swift 6.3.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
missing=()
for debian_package in pkg-config liblz4-dev libsnappy-dev libzstd-dev zlib1g-dev; do
    dpkg -s "$debian_package" >/dev/null 2>&1 || missing+=("$debian_package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

case "$command" in
run)
    exec swift package "${package[@]}" benchmark run "${options[@]}"
    ;;
update)
    exec swift package "${package[@]}" --allow-writing-to-package-directory benchmark baseline update default \
        --no-progress "${options[@]}"
    ;;
check)
    metrics=(--metric mallocCountTotal)
    "$with_time" && metrics=()
    # The plugin reports the outcome as an error name (the exit status is 1 for any of them).
    log=$(mktemp)
    trap 'rm -f "$log"' EXIT
    status=0
    swift package "${package[@]}" benchmark baseline check default --no-progress "${metrics[@]}" "${options[@]}" 2>&1 \
        | tee "$log" || status=$?
    if grep -aq benchmarkThresholdRegression "$log"; then
        echo "micro-benchmarks: worse than the baseline's thresholds allow" >&2
        status=2
    elif grep -aq benchmarkThresholdImprovement "$log"; then
        echo "micro-benchmarks: better than the baseline beyond its thresholds; record it with" \
            "'Benchmarks/micro-benchmarks.sh update' and commit Benchmarks/Micro/.benchmarkBaselines"
        status=0
    elif [ "$status" -eq 0 ]; then
        echo "micro-benchmarks: within the baseline's thresholds"
    else
        echo "micro-benchmarks: the check did not complete (exit status $status)" >&2
    fi
    exit "$status"
    ;;
*)
    echo "usage: $0 [run|check|update] [--time] [benchmark plugin options...]" >&2
    exit 64
    ;;
esac
