import KafkaCompression

/// Why a record batch was rejected.
public enum RecordBatchError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Magic 0 and 1 (the message sets of Kafka before 0.11) are not supported; Kafka 4 dropped them too.
    case unsupportedMessageFormat(magic: Int8)
    /// The stored CRC-32C does not match the bytes.
    case checksumMismatch(stored: UInt32, computed: UInt32)
    /// A length, count or offset inside the batch is impossible.
    case corrupt(String)
    /// The attributes name a codec Kafka does not define.
    case unknownCompression(Int16)
    /// Compressing or decompressing the records failed (including an over-large decompressed size).
    case compression(CompressionError)

    /// A sentence saying what was wrong.
    public var description: String {
        switch self {
        case .unsupportedMessageFormat(let magic):
            "unsupported message format: magic \(magic) (only record batches with magic 2 are supported)"
        case let .checksumMismatch(stored, computed):
            "record batch CRC mismatch: stored \(hex(stored)), computed \(hex(computed))"
        case .corrupt(let reason):
            "corrupt record batch: \(reason)"
        case .unknownCompression(let attributes):
            "record batch names unknown compression codec \(attributes & 0x07)"
        case .compression(let error):
            "record batch compression failed: \(error)"
        }
    }

    private func hex(_ value: UInt32) -> String {
        "0x" + String(value, radix: 16)
    }
}
