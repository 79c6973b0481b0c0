import NIOCore

/// The payload of a `RECORDS` field (Produce and Fetch): zero or more record batches, back to back.
///
/// In memory it is a `ByteBuffer` (a slice of the received frame when decoded, so nothing is copied); a broker
/// serving a fetch can instead point at a region of a log segment, which is then sent with `sendfile`.
public struct RecordSet: Sendable, Hashable {
    /// Where the batches' bytes are.
    public enum Storage: Sendable {
        /// In memory.
        case memory(ByteBuffer)
        /// In a region of a file, sent with `sendfile`.
        case file(FileRegion)
    }

    /// The bytes.
    public var storage: Storage

    /// Batches held in memory; empty by default.
    public init(_ buffer: ByteBuffer = ByteBuffer()) {
        storage = .memory(buffer)
    }

    /// Batches left in a file until they are written to the socket.
    public init(fileRegion: FileRegion) {
        storage = .file(fileRegion)
    }

    /// The payload's size in bytes.
    public var byteCount: Int {
        switch storage {
        case .memory(let buffer): buffer.readableBytes
        case .file(let region): region.readableBytes
        }
    }

    /// The bytes, when they are in memory.
    public var buffer: ByteBuffer? {
        if case .memory(let buffer) = storage { return buffer }
        return nil
    }

    /// Equal bytes in memory, or the same region of the same file.
    public static func == (lhs: RecordSet, rhs: RecordSet) -> Bool {
        switch (lhs.storage, rhs.storage) {
        case let (.memory(a), .memory(b)):
            a == b
        case let (.file(a), .file(b)):
            a.fileHandle === b.fileHandle && a.readerIndex == b.readerIndex && a.endIndex == b.endIndex
        default:
            false
        }
    }

    /// Hashes what `==` compares.
    public func hash(into hasher: inout Hasher) {
        switch storage {
        case .memory(let buffer):
            hasher.combine(buffer)
        case .file(let region):
            hasher.combine(ObjectIdentifier(region.fileHandle))
            hasher.combine(region.readerIndex)
            hasher.combine(region.endIndex)
        }
    }
}
