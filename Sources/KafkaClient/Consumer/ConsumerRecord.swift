import KafkaProtocol
import NIOCore
import Tracing

/// A record read from a partition. Key, value and header values are slices of the fetched (and, for compressed
/// batches, decompressed) bytes: reading a record copies nothing.
public struct ConsumerRecord: Sendable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    /// Milliseconds since the epoch.
    public var timestamp: Int64
    public var timestampType: TimestampType
    public var key: ByteBuffer?
    public var value: ByteBuffer?
    public var headers: RecordHeaders
    /// The leader epoch of the batch, -1 when unknown.
    public var leaderEpoch: Int32
    /// When records are traced (``ClientConfiguration/tracer``): the context of this record's `receive` span, a
    /// child of the producer's span when the record's headers carry its context. Start the spans of the record's
    /// processing from it (`withSpan("handle", context: record.traceContext!)`). Nil when nothing is traced.
    public var traceContext: InstrumentationContext? = nil

    public var topicPartition: TopicPartition { TopicPartition(topic: topic, partition: partition) }
}
