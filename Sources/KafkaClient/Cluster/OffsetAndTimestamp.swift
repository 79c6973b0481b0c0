/// An offset with the timestamp of the record at it (Java's `OffsetAndTimestamp`): the answer of
/// ``KafkaConsumer/offsetsForTimes(_:timeout:)``.
public struct OffsetAndTimestamp: Sendable, Hashable {
    /// The offset of the first record whose timestamp is at least the time asked about.
    public var offset: Int64
    /// That record's timestamp, in milliseconds since the epoch (-1 when the broker does not say).
    public var timestamp: Int64
    /// The leader epoch of that record, when the broker says.
    public var leaderEpoch: Int32?

    /// Makes an offset with its record's timestamp.
    public init(offset: Int64, timestamp: Int64, leaderEpoch: Int32? = nil) {
        self.offset = offset
        self.timestamp = timestamp
        self.leaderEpoch = leaderEpoch
    }
}
