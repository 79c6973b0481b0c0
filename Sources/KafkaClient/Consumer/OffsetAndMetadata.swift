/// A committed offset: the next offset to read (last processed + 1), with optional metadata.
public struct OffsetAndMetadata: Sendable, Hashable {
    /// The next offset to read.
    public var offset: Int64
    /// The leader epoch of the last record processed, when known (lets a later fetch detect truncation, KIP-320).
    public var leaderEpoch: Int32?
    /// Free text stored with the commit.
    public var metadata: String?

    /// Makes a committed offset.
    public init(offset: Int64, leaderEpoch: Int32? = nil, metadata: String? = nil) {
        self.offset = offset
        self.leaderEpoch = leaderEpoch
        self.metadata = metadata
    }
}
