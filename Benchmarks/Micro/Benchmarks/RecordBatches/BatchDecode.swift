import Benchmark
import KafkaCompression
import KafkaProtocol
import MicroSupport
import NIOCore

/// One iteration reads one fetched batch of 1,000 records as a consumer does: `RecordBatchReader` over the
/// bytes, CRC check, decompression (into a buffer of its own), then every record, touching key and value lengths.
/// Metrics are per batch; throughput is batches per second.
func batchDecodeBenchmarks() {
    for codec in CompressionCodec.allCases {
        let workspace = CompressionWorkspace()
        Benchmark(
            "Batch decode \(codec)",
            configuration: MicroConfiguration.make(scalingFactor: .one, allocations: .exact)
        ) { benchmark, encoded in
            var reader = RecordBatchReader(encoded)
            var records = 0
            var bytes = 0
            while let batch = try reader.next() {
                try batch.verifyChecksum()
                var iterator = try batch.records(workspace: workspace)
                while let record = try iterator.next() {
                    records += 1
                    bytes &+= (record.key?.readableBytes ?? 0) &+ (record.value?.readableBytes ?? 0)
                }
            }
            blackHole(bytes)
            if records != Payloads.recordsPerBatch { benchmark.error("decoded \(records) records") }
        } setup: {
            try encodedBatch(codec: codec)
        }
    }
}

/// A batch of `Payloads`' records, encoded with `codec`.
func encodedBatch(codec: CompressionCodec, headers: [RecordHeader] = []) throws -> ByteBuffer {
    let payloads = Payloads()
    var builder = RecordBatchBuilder(capacity: 256 * 1024)
    for index in 0..<Payloads.recordsPerBatch {
        builder.append(timestamp: Payloads.timestamp, key: payloads.keys[index], value: payloads.values[index], headers: headers)
    }
    return try builder.build(compression: codec)
}
