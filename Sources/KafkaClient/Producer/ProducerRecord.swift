import KafkaProtocol

/// A record to send.
public struct ProducerRecord: Sendable {
    public var topic: String
    /// An explicit partition; nil lets the partitioner choose.
    public var partition: Int32?
    public var key: (any KafkaBytes)?
    public var value: (any KafkaBytes)?
    public var headers: [RecordHeader]
    /// Milliseconds since the epoch; nil: the time of `send`.
    public var timestamp: Int64?

    public init(
        topic: String, partition: Int32? = nil, key: (any KafkaBytes)? = nil, value: (any KafkaBytes)?,
        headers: [RecordHeader] = [], timestamp: Int64? = nil
    ) {
        self.topic = topic
        self.partition = partition
        self.key = key
        self.value = value
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
