import Benchmark

// Record batches without I/O: encode and decode per codec, and iteration over an uncompressed batch.
// Each group is in its own file.
let benchmarks: @Sendable () -> Void = {
    batchEncodeBenchmarks()
    batchDecodeBenchmarks()
    recordIterationBenchmarks()
    measurementFloorBenchmark()
}
