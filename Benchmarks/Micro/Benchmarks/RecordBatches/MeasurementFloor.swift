import Benchmark
import MicroSupport

/// An iteration that does nothing, to show what the framework itself allocates per measured iteration: 0 with
/// these metrics (with `cpuTotal` it would be 16), so the other benchmarks' counts are the code's own. Should it
/// move, every count moved with it, not the code.
func measurementFloorBenchmark() {
    Benchmark(
        "Measurement floor (empty iteration)",
        configuration: MicroConfiguration.make(scalingFactor: .one, allocations: .exact)
    ) { _ in
        blackHole(0)
    }
}
