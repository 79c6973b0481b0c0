# Sourced by the benchmark scripts (from the package root): a temporary folder `$work`, and `start_mock_broker`,
# which runs a release mock broker on a free loopback port and sets `$bootstrap`. Both go away on exit.
work=$(mktemp -d)
broker_pid=""
cleanup() {
    if [ -n "$broker_pid" ]; then kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null; fi
    rm -rf "$work"
}
trap cleanup EXIT

start_mock_broker() {
    swift build -c release --static-swift-stdlib --product mock-broker >/dev/null
    .build/release/mock-broker --port 0 --log-level error "$@" >"$work/broker.out" 2>"$work/broker.err" &
    broker_pid=$!
    for _ in $(seq 1 100); do grep -q "listening on" "$work/broker.out" 2>/dev/null && break; sleep 0.1; done
    bootstrap=$(sed -n 's/^mock-broker listening on //p' "$work/broker.out")
    if [ -z "$bootstrap" ]; then
        echo "mock-broker did not start: $(cat "$work/broker.err")" >&2
        exit 1
    fi
}
