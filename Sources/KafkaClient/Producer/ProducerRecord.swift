import KafkaProtocol

/// A record to send.
public struct ProducerRecord: Sendable {
    public var topic: String
    /// An explicit partition; nil lets the partitioner choose.
    public var partition: Int32?
    /// The key (nil: none); keyed records go to the partition of `murmur2(key)`.
    public var key: (any KafkaBytes)? {
        get { keyBytes?.existential }
        set { keyBytes = newValue.map(RecordBytes.init) }
    }
    /// The value (nil: a null value, a tombstone on compacted topics).
    public var value: (any KafkaBytes)? {
        get { valueBytes?.existential }
        set { valueBytes = newValue.map(RecordBytes.init) }
    }
    public var headers: [RecordHeader]
    /// Milliseconds since the epoch; nil: the time of `send`.
    public var timestamp: Int64?

    // Kept as concrete types where they are common ones (see ``RecordBytes``).
    @usableFromInline var keyBytes: RecordBytes?
    @usableFromInline var valueBytes: RecordBytes?

    @inlinable
    public init(
        topic: String, partition: Int32? = nil, key: (any KafkaBytes)? = nil, value: (any KafkaBytes)?,
        headers: [RecordHeader] = [], timestamp: Int64? = nil
    ) {
        self.topic = topic
        self.partition = partition
        keyBytes = key.map(RecordBytes.init)
        valueBytes = value.map(RecordBytes.init)
        self.headers = headers
        self.timestamp = timestamp
    }
}

/// Where a record ended up.
public struct RecordMetadata: Sendable, Hashable {
    public var topic: String
    public var partition: Int32
    /// -1 with `acks=0` (the broker does not say).
    public var offset: Int64
    /// The record's timestamp: its create time, or the broker's append time on `LogAppendTime` topics.
    public var timestamp: Int64
}

/// Identifies a record given to ``KafkaProducer/enqueue(_:)`` in its delivery report; ids increase in the order
/// records were enqueued.
public struct ProducerRecordID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let rawValue: UInt64

    init(rawValue: UInt64) {
        self.rawValue = rawValue
    }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { String(rawValue) }
}

/// The outcome of one record: where it was written, or why it was not.
public struct DeliveryReport: Sendable {
    public var id: ProducerRecordID
    public var result: Result<RecordMetadata, KafkaProducerError>
}

/// What the producer reports while it runs.
public enum ProducerEvent: Sendable {
    /// Outcomes of records, a batch at a time (one element per produced batch, in completion order).
    case deliveryReports(DeliveryReports)
}
