import Benchmark

/// The metrics and regression thresholds every micro-benchmark uses.
///
/// `baseline check` compares every metric a benchmark reports and, for a metric without thresholds of its own,
/// fails on a 5 % change; so each metric here has explicit ones.
/// - Allocations (`mallocCountTotal`, counted by the malloc interposer, whole process) are the same on any
///   machine for the same code, toolchain and inputs, so they are held tightly (``AllocationTolerance``).
///   The thresholds apply to raw counts per iteration, before the scaling factor.
/// - Time is noisy on a shared machine and means little on another one, so it only catches gross regressions:
///   2.5 times the median time (or 40 % of the median throughput); other builds on a 2-core machine were seen
///   to double it. `Benchmarks/micro-benchmarks.sh check` compares allocations only unless given `--time`.
/// - No `cpuTotal`: it is read in 10 ms ticks here, coarser than most iterations, and reading it allocates
///   16 times per iteration, counted with the code's. No `instructions`: this machine has no hardware counters
///   (`perf stat -e instructions true` says "not supported").
public enum MicroConfiguration {
    public static let metrics: [BenchmarkMetric] = [.wallClock, .throughput, .mallocCountTotal]

    /// How many more allocations per iteration than the baseline a run may make, at the median and the 75th
    /// percentile (an extra allocation in every iteration moves both; a background thread's occasional one
    /// moves neither).
    public enum AllocationTolerance {
        /// Code that allocates the same in every iteration, in a process with no other thread allocating: not
        /// one allocation more (the recorded baselines have p0 = p100).
        case exact
        /// Code whose background threads (event loops, a broker) allocate more or less depending on timing.
        case perIteration(Int)

        var thresholds: BenchmarkThresholds {
            switch self {
            case .exact: BenchmarkThresholds(absolute: [.p50: 0, .p75: 0])
            case .perIteration(let extra): BenchmarkThresholds(absolute: [.p50: extra, .p75: extra])
            }
        }
    }

    public static func make(
        scalingFactor: BenchmarkScalingFactor,
        allocations: AllocationTolerance,
        maxDuration: Duration = .seconds(1),
        maxIterations: Int = 10_000,
        warmupIterations: Int = 3
    ) -> Benchmark.Configuration {
        .init(
            metrics: metrics,
            warmupIterations: warmupIterations,
            scalingFactor: scalingFactor,
            maxDuration: maxDuration,
            maxIterations: maxIterations,
            thresholds: [
                .mallocCountTotal: allocations.thresholds,
                .wallClock: BenchmarkThresholds(relative: [.p50: 150]),
                .throughput: BenchmarkThresholds(relative: [.p50: 60]),
            ]
        )
    }
}
