import KafkaProtocol
import NIOCore
import Tracing

/// A record read from a partition. Key, value and header values are slices of the fetched (and, for compressed
/// batches, decompressed) bytes: reading a record copies nothing.
public struct ConsumerRecord: Sendable {
    /// The topic it was read from.
    public var topic: String
    /// The partition it was read from.
    public var partition: Int32
    /// Its offset in the partition.
    public var offset: Int64
    /// Milliseconds since the epoch.
    public var timestamp: Int64
    /// Whether ``timestamp`` is the producer's create time or the broker's append time.
    public var timestampType: TimestampType
    /// The key; nil when the record has none.
    public var key: ByteBuffer?
    /// The value; nil for a null value (a tombstone on compacted topics).
    public var value: ByteBuffer?
    /// The headers, parsed when iterated or looked up by key.
    public var headers: RecordHeaders
    /// The leader epoch of the batch, -1 when unknown.
    public var leaderEpoch: Int32
    /// When records are traced (``ClientConfiguration/tracer``): the context of this record's `receive` span, a
    /// child of the producer's span when the record's headers carry its context. Start the spans of the record's
    /// processing from it (`withSpan("handle", context: record.traceContext!)`). Nil when nothing is traced.
    public var traceContext: InstrumentationContext? = nil

    /// The record's topic and partition.
    public var topicPartition: TopicPartition { TopicPartition(topic: topic, partition: partition) }
}

extension ConsumerRecord {
    /// A record made by hand, to test code that handles records without a broker.
    public init(topic: String, partition: Int32, offset: Int64, timestamp: Int64 = 0, timestampType: TimestampType = .createTime,
                key: ByteBuffer? = nil, value: ByteBuffer?, headers: [RecordHeader] = [], leaderEpoch: Int32 = -1) {
        self.init(topic: topic, partition: partition, offset: offset, timestamp: timestamp, timestampType: timestampType,
                  key: key, value: value, headers: RecordHeaders(headers), leaderEpoch: leaderEpoch)
    }
}
