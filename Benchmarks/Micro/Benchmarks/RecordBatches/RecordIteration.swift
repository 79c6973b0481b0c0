import Benchmark
import KafkaProtocol
import MicroSupport
import NIOCore

/// Iteration alone: the records of an uncompressed batch already parsed (no CRC, no decompression), so what is
/// measured is framing, the key/value slices and, in the second benchmark, reading two headers per record.
/// The scaling factor is the batch's 1,000 records: times, allocations and throughput are per record.
func recordIterationBenchmarks() {
    Benchmark(
        "Record iteration",
        configuration: MicroConfiguration.make(scalingFactor: .kilo, allocations: .exact)
    ) { benchmark, batch in
        var iterator = try batch.records()
        var records = 0
        var bytes = 0
        while let record = try iterator.next() {
            records += 1
            bytes &+= (record.key?.readableBytes ?? 0) &+ (record.value?.readableBytes ?? 0)
        }
        blackHole(bytes)
        if records != benchmark.scaledIterations.count { benchmark.error("iterated \(records) records") }
    } setup: {
        try RecordBatch(encodedBatch(codec: .none))
    }

    Benchmark(
        "Record iteration, 2 headers",
        configuration: MicroConfiguration.make(scalingFactor: .kilo, allocations: .exact)
    ) { benchmark, batch in
        var iterator = try batch.records()
        var records = 0
        var bytes = 0
        while let record = try iterator.next() {
            records += 1
            bytes &+= (record.key?.readableBytes ?? 0) &+ (record.value?.readableBytes ?? 0)
            for header in record.rawHeaders {
                bytes &+= header.key.utf8.count &+ (header.value?.readableBytes ?? 0)
            }
        }
        blackHole(bytes)
        if records != benchmark.scaledIterations.count { benchmark.error("iterated \(records) records") }
    } setup: {
        try RecordBatch(encodedBatch(codec: .none, headers: [
            RecordHeader(key: "trace-id", value: "4bf92f3577b34da6a3ce929d0e0e4736"),
            RecordHeader(key: "source", value: "checkout"),
        ]))
    }
}
