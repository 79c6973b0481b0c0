import Benchmark

// The client's record path against an in-process MockBroker on loopback: the producer's append and the
// consumer's iteration. Each benchmark runs in its own process, which starts its own broker in setup and
// stops it in teardown. Each group is in its own file.
let benchmarks: @Sendable () -> Void = {
    producerAppendBenchmarks()
    consumerIterationBenchmarks()
}
