import Foundation
import KafkaCompression
import KafkaProtocol
import NIOCore

// Encode and decode throughput of magic-2 record batches, per codec.
// Run in release: `swift run -c release record-batch-benchmark [--seconds S] [--records-per-batch N]`.

struct Options {
    var seconds = 2.0
    var recordsPerBatch = 1000
    var valueSize = 100

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--seconds": seconds = Double(iterator.next() ?? "") ?? seconds
            case "--records-per-batch": recordsPerBatch = Int(iterator.next() ?? "") ?? recordsPerBatch
            case "--value-size": valueSize = Int(iterator.next() ?? "") ?? valueSize
            default: fatalError("unknown argument \(argument)")
            }
        }
    }
}

let options = Options(CommandLine.arguments)

/// Values that compress like typical text payloads: words from a small vocabulary.
func makeValues(count: Int, size: Int) -> [ByteBuffer] {
    let words = ["order", "created", "user", "id", "amount", "EUR", "status", "shipped", "sku", "warehouse", "42", "2026"]
    var generator = SystemRandomNumberGenerator()
    return (0..<count).map { _ in
        var text = ""
        while text.utf8.count < size { text += words.randomElement(using: &generator)! + " " }
        return ByteBuffer(string: String(text.utf8.prefix(size))!)
    }
}

let values = makeValues(count: options.recordsPerBatch, size: options.valueSize)
let keys = (0..<options.recordsPerBatch).map { ByteBuffer(string: "key-\($0 % 100)") }
let payloadBytesPerBatch = values.reduce(0) { $0 + $1.readableBytes } + keys.reduce(0) { $0 + $1.readableBytes }

func measure(_ body: () throws -> Void) rethrows -> (iterations: Int, seconds: Double) {
    let clock = ContinuousClock()
    let start = clock.now
    var iterations = 0
    let budget = Duration.milliseconds(Int64(options.seconds * 1000))
    while clock.now - start < budget {
        try body()
        iterations += 1
    }
    let elapsed = clock.now - start
    return (iterations, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
}

func report(_ label: String, _ codec: CompressionCodec, _ result: (iterations: Int, seconds: Double), extra: String = "") {
    let records = Double(result.iterations * options.recordsPerBatch)
    let megabytes = Double(result.iterations * payloadBytesPerBatch) / 1_000_000
    let name = label.padding(toLength: 7, withPad: " ", startingAt: 0)
    let codecName = codec.description.padding(toLength: 7, withPad: " ", startingAt: 0)
    let rate = String(format: "%8.1f MB/s  %12.0f records/s", megabytes / result.seconds, records / result.seconds)
    print("\(name) \(codecName)  \(rate)\(extra)")
}

print("record batches: \(options.recordsPerBatch) records of \(options.valueSize) B values per batch, \(options.seconds) s per case")
print("MB/s counts key+value payload bytes")
let workspace = CompressionWorkspace()
let timestamp: Int64 = 1_700_000_000_000
for codec in CompressionCodec.allCases {
    var encoded = ByteBuffer()
    let encode = try measure {
        var builder = RecordBatchBuilder(capacity: payloadBytesPerBatch + options.recordsPerBatch * 16)
        for index in 0..<options.recordsPerBatch {
            builder.append(timestamp: timestamp + Int64(index), key: keys[index], value: values[index])
        }
        encoded = try builder.build(compression: codec, workspace: workspace)
    }
    let ratio = Double(payloadBytesPerBatch) / Double(encoded.readableBytes)
    report("encode", codec, encode, extra: String(format: "   (batch %d B, ratio %.2f)", encoded.readableBytes, ratio))

    var checksum = 0
    let decode = try measure {
        let batch = try RecordBatch(encoded)
        try batch.verifyChecksum()
        var records = try batch.records(workspace: workspace)
        while let record = try records.next() {
            checksum &+= (record.value?.readableBytes ?? 0) &+ (record.key?.readableBytes ?? 0)
        }
    }
    precondition(checksum > 0)
    report("decode", codec, decode)
}
