import KafkaCompression
import NIOCore

/// Producer settings, named and defaulted after the Java client's (Kafka 4.0).
public struct ProducerConfiguration: Sendable {
    /// Connections, timeouts, backoff and metadata settings shared with the consumer.
    public var client: ClientConfiguration

    /// `acks`: how many replicas must have a batch before the broker answers.
    public enum Acks: Int16, Sendable {
        /// `acks=0`: the broker sends no answer; a record is reported delivered once written to the socket.
        case none = 0
        /// `acks=1`: the leader has it.
        case leader = 1
        /// `acks=all` (-1): every in-sync replica has it. The default.
        case all = -1
    }

    /// `acks`: how many replicas must have a record before it counts as written. Default `.all`.
    public var acks: Acks = .all
    /// `linger.ms`: how long a batch waits for more records before it is sent anyway. Default 5 ms.
    public var linger: Duration = .milliseconds(5)
    /// `batch.size`: the most bytes a partition's batch holds; it is sent once full (or after `linger.ms`). A single
    /// larger record gets a batch of its own. Never more than `buffer.memory` or `max.request.size`. Default
    /// 1,000,000, as librdkafka's.
    ///
    /// The Java client's default is 16384 because its batches take all of `batch.size` from `buffer.memory` when
    /// they start. Ours take what they hold, in growing steps (16 KiB first), so a large default costs a quiet
    /// partition nothing, and a busy one sends a request per megabyte instead of one per 16 KiB (where 10 KB records
    /// go one to a batch, and so one to a request per partition). Set 16384 for the Java client's batches.
    public var batchSize = 1_000_000
    /// `buffer.memory`: bytes of records the producer may hold in batches; when full, sending waits up to
    /// `max.block.ms`. Default 32 MiB.
    public var bufferMemory = 32 * 1024 * 1024
    /// `compression.type` (and `compression.<codec>.level`): nil level = the codec's default.
    public var compression: CompressionCodec = .none
    /// `compression.<codec>.level`; nil: the codec's default.
    public var compressionLevel: Int?
    /// `enable.idempotence`: nil (the default) means on when `acks` is `.all`, as in the Java client.
    public var enableIdempotence: Bool?
    /// `max.in.flight.requests.per.connection`. Default 5 (at most 5 with idempotence).
    public var maxInFlightRequestsPerConnection = 5
    /// `retries`: attempts after the first for retriable errors, within `delivery.timeout.ms`. Default: no limit.
    public var retries = Int(Int32.max)
    /// `delivery.timeout.ms`: the longest a record may take from `send` to its outcome. Default 2 minutes.
    public var deliveryTimeout: Duration = .seconds(2 * 60)
    /// `max.block.ms`: the longest `send` waits for metadata or for room in `buffer.memory`. Default 60 s.
    public var maxBlock: Duration = .seconds(60)
    /// `max.request.size`: the largest record (and produce request) the producer sends. Default 1 MiB.
    public var maxRequestSize = 1_048_576
    /// `partitioner.class`: how records without an explicit partition are placed.
    public var partitioner: PartitionerChoice = .sticky
    /// `partitioner.ignore.keys`: place keyed records like keyless ones instead of by key hash.
    public var partitionerIgnoreKeys = false

    /// Settings for brokers at `bootstrapServers` (`host:port`, comma-separated). A server list that does not
    /// parse is reported when the producer is made.
    public init(bootstrapServers: String) {
        client = ClientConfiguration(bootstrapServers: bootstrapServers)
    }

    /// Settings on top of shared client settings.
    public init(client: ClientConfiguration) {
        self.client = client
    }

    /// The most a batch holds: `batch.size`, but never more than `buffer.memory` or `max.request.size` (as
    /// librdkafka caps its batches at `message.max.bytes`), so lowering either for a broker with a small
    /// `max.message.bytes` needs no matching `batch.size`.
    var batchLimit: Int { min(batchSize, bufferMemory, maxRequestSize) }

    /// Whether the producer is idempotent with these settings.
    public var isIdempotent: Bool { enableIdempotence ?? (acks == .all) }

    /// Refuses contradictory settings the way the Java client does.
    func validate() throws(KafkaProducerError) {
        if enableIdempotence == true {
            guard acks == .all else {
                throw .invalidConfiguration("enable.idempotence requires acks=all")
            }
            guard maxInFlightRequestsPerConnection <= 5 else {
                throw .invalidConfiguration("enable.idempotence requires max.in.flight.requests.per.connection <= 5")
            }
        }
        guard batchSize > 0, bufferMemory > 0 else {
            throw .invalidConfiguration("batch.size and buffer.memory must be positive")
        }
        guard maxInFlightRequestsPerConnection > 0 else {
            throw .invalidConfiguration("max.in.flight.requests.per.connection must be positive")
        }
        if let level = compressionLevel, let range = compression.supportedLevels, !range.contains(level) {
            throw .invalidConfiguration("compression level \(level) is outside \(range) for \(compression)")
        }
        if let problem = client.problem { throw .invalidConfiguration(problem) }
    }
}

/// How records without an explicit partition are placed.
public enum PartitionerChoice: Sendable {
    /// Keyed records by `murmur2(key)` like the Java client; keyless records stick to one partition until its
    /// batch is sent, then move on (the Java client's default).
    case sticky
    /// Keyed records by `murmur2(key)`; keyless records in turn across the partitions.
    case roundRobin
    /// Your own placement for every record without an explicit partition.
    case custom(any Partitioner)
}

/// A user-supplied partitioner.
public protocol Partitioner: Sendable {
    /// The partition (0..<partitionCount) for a record.
    func partition(topic: String, key: (any KafkaBytes)?, value: (any KafkaBytes)?, partitionCount: Int32) -> Int32
}
