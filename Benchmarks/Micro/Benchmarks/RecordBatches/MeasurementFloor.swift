import Benchmark
import MicroSupport

/// An iteration that does nothing: what the framework itself allocates per measured iteration (16 with
/// Swift 6.3.1 and benchmark 1.38.1). Subtract it from the other benchmarks' per-iteration counts to get what
/// the code under test allocates; a change here means the floor moved, not the code.
func measurementFloorBenchmark() {
    Benchmark(
        "Measurement floor (empty iteration)",
        configuration: MicroConfiguration.make(scalingFactor: .one, allocations: .exact)
    ) { _ in
        blackHole(0)
    }
}
