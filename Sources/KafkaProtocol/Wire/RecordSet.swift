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
        /// In memory, in pieces written back to back: a producer's batch that refers to its large values instead of
        /// holding copies of them.
        case pieces([ByteBuffer])
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

    /// Batches in memory, in pieces written back to back.
    public init(pieces: [ByteBuffer]) {
        storage = .pieces(pieces)
    }

    /// The payload's size in bytes.
    public var byteCount: Int {
        switch storage {
        case .memory(let buffer): buffer.readableBytes
        case .file(let region): region.readableBytes
        case .pieces(let pieces): pieces.reduce(0) { $0 + $1.readableBytes }
        }
    }

    /// The bytes, when they are in memory (pieces are joined, a copy).
    public var buffer: ByteBuffer? {
        switch storage {
        case .memory(let buffer):
            return buffer
        case .file:
            return nil
        case .pieces(let pieces):
            var joined = ByteBufferAllocator().buffer(capacity: byteCount)
            for piece in pieces { joined.writeImmutableBuffer(piece) }
            return joined
        }
    }

    /// Equal bytes in memory, or the same region of the same file.
    public static func == (lhs: RecordSet, rhs: RecordSet) -> Bool {
        switch (lhs.storage, rhs.storage) {
        case let (.file(a), .file(b)):
            a.fileHandle === b.fileHandle && a.readerIndex == b.readerIndex && a.endIndex == b.endIndex
        case (.file, _), (_, .file):
            false
        default:
            lhs.buffer == rhs.buffer
        }
    }

    /// Hashes what `==` compares.
    public func hash(into hasher: inout Hasher) {
        switch storage {
        case .memory, .pieces:
            hasher.combine(buffer)
        case .file(let region):
            hasher.combine(ObjectIdentifier(region.fileHandle))
            hasher.combine(region.readerIndex)
            hasher.combine(region.endIndex)
        }
    }
}
