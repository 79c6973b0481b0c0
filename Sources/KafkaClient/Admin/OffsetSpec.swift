/// Which offset of a partition to look up, or to reset a group to (Java's `OffsetSpec`).
public enum OffsetSpec: Sendable, Hashable {
    /// The log start offset.
    case earliest
    /// The log end offset (the next offset to be written).
    case latest
    /// The offset of the record with the largest timestamp.
    case maxTimestamp
    /// The first offset whose record's timestamp is at least this (milliseconds since the epoch).
    case timestamp(Int64)

    /// The `Timestamp` ListOffsets sends for it.
    var wireTimestamp: Int64 {
        switch self {
        case .earliest: -2
        case .latest: -1
        case .maxTimestamp: -3
        case .timestamp(let milliseconds): milliseconds
        }
    }
}
