/// A committed offset: the next offset to read (last processed + 1), with optional metadata.
public struct OffsetAndMetadata: Sendable, Hashable {
    public var offset: Int64
    public var leaderEpoch: Int32?
    public var metadata: String?

    public init(offset: Int64, leaderEpoch: Int32? = nil, metadata: String? = nil) {
        self.offset = offset
        self.leaderEpoch = leaderEpoch
        self.metadata = metadata
    }
}
