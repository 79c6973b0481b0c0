import NIOCore

/// Where an encoded message goes: a growing `ByteBuffer` plus, for large `records` payloads, whole buffers or
/// file regions kept as separate chunks so that their bytes are handed to the socket without being copied.
///
/// Generated encoders write primitives straight into ``buffer``; ``writeRecords(_:compact:)`` decides between
/// copying a payload and splicing it in as its own chunk.
public struct WireWriter {
    /// A piece of the encoded output, in order.
    public enum Chunk: Sendable {
        /// Bytes in memory.
        case buffer(ByteBuffer)
        /// Bytes that stay in a file until they are sent (`sendfile`).
        case fileRegion(FileRegion)

        /// The chunk's size in bytes.
        public var byteCount: Int {
            switch self {
            case .buffer(let buffer): buffer.readableBytes
            case .fileRegion(let region): region.readableBytes
            }
        }
    }

    /// The chunk being written.
    public var buffer: ByteBuffer
    /// Allocates the chunks' buffers.
    public let allocator: ByteBufferAllocator
    /// In-memory records payloads smaller than this are copied; larger ones become their own chunk.
    public var spliceThreshold: Int
    /// Whether a non-default value in a field the version lacks is an error (the default, as in Kafka's own
    /// encoders: a request must not silently lose what the caller set) or is left out (a broker answering an
    /// older client with a response built for every version).
    public var rejectsFieldsMissingFromVersion = true
    private var sealed: [Chunk] = []
    private var sealedBytes = 0
    /// What ``buffer`` becomes when it is sealed: the first write after gets a buffer of its own (copy on write), so
    /// a chunk followed by another chunk allocates nothing in between.
    private let unallocated: ByteBuffer

    /// An empty writer whose first chunk reserves `capacity` bytes.
    public init(allocator: ByteBufferAllocator = ByteBufferAllocator(), capacity: Int = 256, spliceThreshold: Int = 4096) {
        self.allocator = allocator
        self.buffer = allocator.buffer(capacity: capacity)
        self.spliceThreshold = spliceThreshold
        self.unallocated = allocator.buffer(capacity: 0)
    }

    /// Bytes written so far across all chunks.
    public var writtenBytes: Int { sealedBytes + buffer.readableBytes }

    /// Writes a `RECORDS` field: its length, then the payload, copied when small and spliced when large.
    public mutating func writeRecords(_ records: RecordSet?, compact: Bool) {
        guard let records else {
            buffer.writeKafkaLength(nil, compact: compact, classicWidth: 4)
            return
        }
        buffer.writeKafkaLength(records.byteCount, compact: compact, classicWidth: 4)
        switch records.storage {
        case .memory(let payload):
            write(payload)
        case .file(let region):
            append(.fileRegion(region))
        case .pieces(let pieces):
            writePieces(pieces)
        }
    }

    /// A batch that refers to its large values (see `RecordBatchBuilder.pieces(of:referencing:)`): large pieces
    /// become chunks; a small piece between two of them (a record's framing) becomes a chunk too, as it is, rather
    /// than a copy in a buffer of its own; runs of small pieces are copied into ``buffer``, grown once for them.
    private mutating func writePieces(_ pieces: [ByteBuffer]) {
        let copied = pieces.reduce(0) { $1.readableBytes < spliceThreshold ? $0 + $1.readableBytes : $0 }
        if copied >= spliceThreshold { buffer.reserveCapacity(minimumWritableBytes: copied) }
        sealed.reserveCapacity(sealed.count + pieces.count + 1)
        for index in pieces.indices {
            let piece = pieces[index]
            let nextIsLarge = index + 1 == pieces.count || pieces[index + 1].readableBytes >= spliceThreshold
            if piece.readableBytes >= spliceThreshold || (buffer.readableBytes == 0 && nextIsLarge) {
                append(.buffer(piece))
            } else {
                buffer.writeImmutableBuffer(piece)
            }
        }
    }

    /// In-memory payload bytes: copied when small, spliced in as their own chunk when large.
    private mutating func write(_ payload: ByteBuffer) {
        if payload.readableBytes < spliceThreshold {
            buffer.writeImmutableBuffer(payload)
        } else {
            append(.buffer(payload))
        }
    }

    private mutating func append(_ chunk: Chunk) {
        guard chunk.byteCount > 0 else { return }
        if buffer.readableBytes > 0 {
            sealedBytes += buffer.readableBytes
            sealed.append(.buffer(buffer))
            buffer = unallocated
        }
        sealedBytes += chunk.byteCount
        sealed.append(chunk)
    }

    /// The encoded output; the writer is left empty.
    public mutating func finish() -> [Chunk] {
        var chunks = sealed
        if buffer.readableBytes > 0 || chunks.isEmpty { chunks.append(.buffer(buffer)) }
        sealed = []
        sealedBytes = 0
        buffer = allocator.buffer(capacity: 0)
        return chunks
    }

    /// The output as one contiguous buffer (copies spliced payloads; file regions are not allowed here).
    public mutating func finishContiguous() -> ByteBuffer {
        let chunks = finish()
        if chunks.count == 1, case .buffer(let only) = chunks[0] { return only }
        var joined = allocator.buffer(capacity: chunks.reduce(0) { $0 + $1.byteCount })
        for chunk in chunks {
            guard case .buffer(let part) = chunk else {
                preconditionFailure("finishContiguous() on output that holds a file region")
            }
            joined.writeImmutableBuffer(part)
        }
        return joined
    }

    // MARK: Frames

    /// A reserved `int32` size prefix, filled in by ``endFrame(_:)``.
    public struct FrameMark: Sendable {
        fileprivate let chunk: Int
        fileprivate let index: Int
        fileprivate let start: Int
    }

    /// Reserves the size prefix of a frame.
    public mutating func beginFrame() -> FrameMark {
        let mark = FrameMark(chunk: sealed.count, index: buffer.writerIndex, start: writtenBytes)
        buffer.writeInteger(Int32(0))
        return mark
    }

    /// Sets the size prefix to the bytes written since ``beginFrame()``.
    public mutating func endFrame(_ mark: FrameMark) {
        let size = Int32(truncatingIfNeeded: writtenBytes - mark.start - 4)
        if mark.chunk < sealed.count, case .buffer(var first) = sealed[mark.chunk] {
            first.setInteger(size, at: mark.index)
            sealed[mark.chunk] = .buffer(first)
        } else {
            buffer.setInteger(size, at: mark.index)
        }
    }

    // MARK: Tagged fields

    /// Encodes one known tagged field's value into its own buffer, ready for ``writeTaggedFields(_:unknown:)``.
    public func encodeTaggedField(
        tag: UInt32,
        _ encodeValue: (inout WireWriter) throws(KafkaWireError) -> Void
    ) throws(KafkaWireError) -> TaggedField {
        var scratch = WireWriter(allocator: allocator, capacity: 64, spliceThreshold: .max)
        scratch.rejectsFieldsMissingFromVersion = rejectsFieldsMissingFromVersion
        try encodeValue(&scratch)
        return TaggedField(tag: tag, data: scratch.finishContiguous())
    }

    /// Writes a tagged-field section: known and preserved unknown fields together, in ascending tag order.
    public mutating func writeTaggedFields(_ known: [TaggedField], unknown: [TaggedField]) {
        if known.isEmpty && unknown.isEmpty {
            buffer.writeInteger(UInt8(0))
            return
        }
        let fields = (known + unknown).sorted { $0.tag < $1.tag }
        buffer.writeKafkaUnsignedVarint(UInt32(fields.count))
        for field in fields {
            buffer.writeKafkaUnsignedVarint(field.tag)
            buffer.writeKafkaUnsignedVarint(UInt32(field.data.readableBytes))
            buffer.writeImmutableBuffer(field.data)
        }
    }
}
