import KafkaProtocol

/// A record to send.
public struct ProducerRecord: Sendable {
    /// The topic to send to.
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
    /// Headers (keys may repeat).
    public var headers: [RecordHeader]
    /// Milliseconds since the epoch; nil: the time of `send`.
    public var timestamp: Int64?

    // Kept as concrete types where they are common ones (see ``RecordBytes``).
    @usableFromInline var keyBytes: RecordBytes?
    @usableFromInline var valueBytes: RecordBytes?

    /// A record for `topic`; `partition` nil lets the partitioner choose (by key when there is one).
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
    /// The topic it went to.
    public var topic: String
    /// The partition it went to.
    public var partition: Int32
    /// -1 with `acks=0` (the broker does not say).
    public var offset: Int64
    /// The record's timestamp: its create time, or the broker's append time on `LogAppendTime` topics.
    public var timestamp: Int64

    /// Where a record went (made by hand in tests of code that handles outcomes).
    public init(topic: String, partition: Int32, offset: Int64, timestamp: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.timestamp = timestamp
    }
}

/// Identifies a record given to ``KafkaProducer/enqueue(_:)`` in its delivery report; ids increase in the order
/// records were enqueued.
public struct ProducerRecordID: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The id's number.
    public let rawValue: UInt64

    /// An id with this number (made by hand in tests; the producer numbers its records itself).
    public init(rawValue: UInt64) {
        self.rawValue = rawValue
    }
    /// Earlier-enqueued records have smaller ids.
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    /// The number.
    public var description: String { String(rawValue) }
}

/// The outcome of one record: where it was written, or why it was not.
public struct DeliveryReport: Sendable {
    /// Which record (as ``KafkaProducer/enqueue(_:)`` returned it).
    public var id: ProducerRecordID
    /// Where it was written, or why it was not.
    public var result: Result<RecordMetadata, KafkaProducerError>

    /// A report (made by hand in tests of code that handles outcomes).
    public init(id: ProducerRecordID, result: Result<RecordMetadata, KafkaProducerError>) {
        self.id = id
        self.result = result
    }
}

/// What the producer reports while it runs.
public enum ProducerEvent: Sendable {
    /// Outcomes of records, a batch at a time (one element per produced batch, in completion order).
    case deliveryReports(DeliveryReports)
}
