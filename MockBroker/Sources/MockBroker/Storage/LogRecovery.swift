/// Damage a partition's log had on disk when the broker opened it, and what recovery cut away.
///
/// On startup every segment is read once and every batch checked (framing, magic, offsets, CRC). At the first batch
/// that is not whole and valid the log ends, as Kafka's recovery ends it: that segment is cut there and any later
/// segments are deleted, so the log stays a gapless prefix of what was written and nothing corrupt is served. Each
/// recovery is logged (a torn tail as a warning, corruption as an error) and listed in ``MockBroker/recoveries``.
public struct LogRecovery: Sendable, Hashable, CustomStringConvertible {
    public enum Problem: Sendable, Hashable, CustomStringConvertible {
        /// The last batch is incomplete: a crash in the middle of a write (or a length field damaged so that the
        /// batch claims more bytes than the file holds).
        case tornTail(batchBytes: Int, bytesPresent: Int)
        /// A batch that is all there fails a check: its bytes changed on disk.
        case corruptBatch(String)

        public var description: String {
            switch self {
            case let .tornTail(batchBytes, bytesPresent):
                "an incomplete batch (\(bytesPresent) of its \(batchBytes) bytes)"
            case .corruptBatch(let reason): "a corrupt batch (\(reason))"
            }
        }
    }

    public var topic: String
    public var partition: Int32
    /// The segment file holding the bad batch (`<base offset>.log`).
    public var segment: String
    /// Where the bad batch starts in that file.
    public var position: Int
    /// The log end offset after recovery: the first offset that was not recovered.
    public var logEndOffset: Int64
    /// Bytes cut from that segment (the bad batch and everything after it).
    public var bytesTruncated: Int
    /// Later segments deleted (their batches came after the bad one), and their bytes.
    public var segmentsDeleted: Int
    public var segmentBytesDeleted: Int
    public var problem: Problem

    /// True for damage a crash of the broker explains (a torn last write); false for corruption.
    public var isTornTail: Bool {
        if case .tornTail = problem, segmentsDeleted == 0 { return true }
        return false
    }

    public var description: String {
        var text = "\(topic)-\(partition): \(problem) at byte \(position) of \(segment); the log now ends at offset "
            + "\(logEndOffset) (\(bytesTruncated) byte(s) cut"
        if segmentsDeleted > 0 { text += ", \(segmentsDeleted) later segment(s) of \(segmentBytesDeleted) byte(s) deleted" }
        return text + ")"
    }
}
