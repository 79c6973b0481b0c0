import Benchmark
import KafkaCompression
import KafkaProtocol
import MicroSupport
import NIOCore

/// One iteration builds one batch of 1,000 records of 100 bytes, as a producer does per partition: append every
/// record into a `RecordBatchBuilder`, then `build` (compress, CRC) with a workspace reused across batches.
/// Metrics are per batch; throughput is batches per second.
func batchEncodeBenchmarks() {
    let payloads = Payloads()
    let count = Payloads.recordsPerBatch
    // What a producer reserves: room for the payload and the record framing, so the buffer never grows.
    let capacity = (payloads.keys + payloads.values).reduce(0) { $0 + $1.readableBytes } + count * 16 + 64

    for codec in CompressionCodec.allCases {
        // Kept across iterations, like the producer's: codec contexts are set up once.
        let workspace = CompressionWorkspace()
        Benchmark(
            "Batch encode \(codec)",
            configuration: MicroConfiguration.make(scalingFactor: .one, allocations: .exact)
        ) { benchmark in
            var builder = RecordBatchBuilder(capacity: capacity)
            for index in 0..<count {
                builder.append(timestamp: Payloads.timestamp, key: payloads.keys[index], value: payloads.values[index])
            }
            blackHole(try builder.build(compression: codec, workspace: workspace))
        }
    }
}
