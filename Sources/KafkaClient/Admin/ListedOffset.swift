/// An offset found by ``KafkaAdmin/listOffsets(_:isolationLevel:)`` (Java's `ListOffsetsResultInfo`).
public struct ListedOffset: Sendable, Hashable {
    /// The offset; -1 when there is none (a timestamp past the last record).
    public var offset: Int64
    /// The record's timestamp for timestamp lookups, else -1.
    public var timestamp: Int64
    /// The leader epoch of the record, when the broker knows it.
    public var leaderEpoch: Int32?
}
