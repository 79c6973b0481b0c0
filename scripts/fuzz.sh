#!/usr/bin/env bash
# Builds the libFuzzer targets (the Fuzz/ package), seeds their corpora from the golden fixtures and runs each
# target for a bounded time, one after the other. Exits non-zero if any target crashes, hangs or runs out of
# memory, and prints where libFuzzer saved the input that did it.
#
#   scripts/fuzz.sh [seconds-per-target]     # default 20: about a minute for the three targets
#
# FUZZ_TARGETS="fuzz-record-batches ..." runs only those targets. FUZZ_SANITIZE=address also builds with
# AddressSanitizer (slower; its own build directory, Fuzz/.build-asan).
# Corpora grow across runs in <build>/fuzz/corpus/<target>; crashing inputs land in <build>/fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-20}"
read -r -a targets <<< "${FUZZ_TARGETS:-fuzz-protocol-messages fuzz-record-batches fuzz-broker-requests}"

# One -sanitize flag with a list: a second -sanitize would replace the first, and with it the coverage
# instrumentation libFuzzer needs.
sanitizers=fuzzer
scratch=Fuzz/.build
if [[ "${FUZZ_SANITIZE:-}" == address ]]; then
    sanitizers=fuzzer,address
    scratch=Fuzz/.build-asan
    # Swift keeps a weak reference's side table behind a tagged pointer that LeakSanitizer cannot follow.
    export LSAN_OPTIONS="suppressions=$PWD/Fuzz/lsan-suppressions.txt${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
fi
build=(swift build --package-path Fuzz -c release -Xswiftc -sanitize="$sanitizers" --scratch-path "$scratch")

started=$SECONDS
"${build[@]}"
bin="$("${build[@]}" --show-bin-path)"
echo "fuzz: built in $((SECONDS - started)) s"

work="$scratch/fuzz"
rm -rf "$work/seeds"
python3 Fuzz/seed-corpora.py "$work/seeds"

# The broker target keeps its data directory under $TMPDIR; this folder also catches what a crash leaves behind.
scratch_tmp="$(mktemp -d "${TMPDIR:-/tmp}/swift-kafka-fuzz.XXXXXX")"
trap 'rm -rf "$scratch_tmp"' EXIT

failed=()
for target in "${targets[@]}"; do
    corpus="$work/corpus/$target"
    artifacts="$work/artifacts/$target"
    log="$work/$target.log"
    mkdir -p "$corpus" "$artifacts"
    # Per-input time limit: the broker harness itself waits up to 60 s to tell a hung broker from a busy one.
    timeout=10
    [[ "$target" == fuzz-broker-requests ]] && timeout=120
    echo "fuzz: $target for ${seconds} s (log: $log)"
    # The Swift runtime's backtracer would take the crash signal before libFuzzer, which then could not save
    # the input: it is off while fuzzing, and back on for the replay below.
    if TMPDIR="$scratch_tmp" SWIFT_BACKTRACE=enable=no "$bin/$target" "$corpus" "$work/seeds/$target" \
        -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb=2048 \
        -artifact_prefix="$artifacts/" -print_final_stats=1 > "$log" 2>&1; then
        grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|stat::new_units_added)' "$log" | tr '\n' ' ' || true
        echo
    else
        failed+=("$target")
        echo "fuzz: $target FAILED; the end of its log:"
        tail -n 40 "$log"
        for input in $(grep -oE 'Test unit written to \S+' "$log" | cut -d' ' -f5); do
            echo "fuzz: $target saved the failing input as $input"
            echo "fuzz: replay it with: $bin/$target $input"
            echo "fuzz: replaying it once with the Swift backtracer:"
            TMPDIR="$scratch_tmp" timeout 120 "$bin/$target" "$input" 2>&1 | tail -n 60 || true
        done
    fi
done

echo "fuzz: done in $((SECONDS - started)) s"
if ((${#failed[@]} > 0)); then
    echo "fuzz: FAILED: ${failed[*]}"
    exit 1
fi
