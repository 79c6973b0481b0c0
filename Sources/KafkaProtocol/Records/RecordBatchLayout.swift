import KafkaCompression

/// Byte offsets of the fields of a magic-2 record batch header (see Kafka's `implementation.html`).
///
/// The CRC covers everything from `attributes` to the end, so a broker may rewrite `baseOffset` and
/// `partitionLeaderEpoch` in place without recomputing it.
public enum RecordBatchLayout {
    /// `baseOffset`: int64.
    public static let baseOffset = 0
    /// `batchLength`: int32, the bytes after this field.
    public static let batchLength = 8
    /// `partitionLeaderEpoch`: int32.
    public static let partitionLeaderEpoch = 12
    /// `magic`: int8, 2.
    public static let magic = 16
    /// `crc`: uint32, CRC-32C of the bytes from `attributes` on.
    public static let crc = 17
    /// `attributes`: int16.
    public static let attributes = 21
    /// `lastOffsetDelta`: int32.
    public static let lastOffsetDelta = 23
    /// `baseTimestamp`: int64.
    public static let baseTimestamp = 27
    /// `maxTimestamp`: int64.
    public static let maxTimestamp = 35
    /// `producerId`: int64.
    public static let producerId = 43
    /// `producerEpoch`: int16.
    public static let producerEpoch = 51
    /// `baseSequence`: int32.
    public static let baseSequence = 53
    /// `recordsCount`: int32.
    public static let recordCount = 57
    /// Size of the header; records start here.
    public static let headerSize = 61
    /// `baseOffset` and `batchLength` come before the length's own count starts.
    public static let logOverhead = 12
    /// The only record format this package reads and writes.
    public static let currentMagic: Int8 = 2
}

/// Whether a timestamp was set by the producer or by the broker on append.
public enum TimestampType: Int8, Sendable, Hashable {
    /// The producer's timestamp.
    case createTime = 0
    /// The broker's time of append.
    case logAppendTime = 1
}

/// The `attributes` field of a record batch.
public struct RecordBatchAttributes: Sendable, Hashable {
    /// The field's bits.
    public var rawValue: Int16

    /// Attributes from the field's bits.
    public init(rawValue: Int16) {
        self.rawValue = rawValue
    }

    /// Attributes with these flags.
    public init(
        compression: CompressionCodec = .none,
        timestampType: TimestampType = .createTime,
        isTransactional: Bool = false,
        isControl: Bool = false
    ) {
        rawValue = Int16(compression.rawValue)
            | (timestampType == .logAppendTime ? 0x08 : 0)
            | (isTransactional ? 0x10 : 0)
            | (isControl ? 0x20 : 0)
    }

    /// Bits 0–2; nil for a codec number Kafka does not define.
    public var compression: CompressionCodec? { CompressionCodec(rawValue: Int8(rawValue & 0x07)) }
    /// Bit 3.
    public var timestampType: TimestampType { rawValue & 0x08 == 0 ? .createTime : .logAppendTime }
    /// Bit 4.
    public var isTransactional: Bool { rawValue & 0x10 != 0 }
    /// Bit 5.
    public var isControl: Bool { rawValue & 0x20 != 0 }
    /// Set on batches that compaction has given a delete horizon (KIP-534).
    public var hasDeleteHorizon: Bool { rawValue & 0x40 != 0 }
}
