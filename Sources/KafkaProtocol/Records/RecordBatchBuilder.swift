import KafkaCompression
import NIOCore

/// Builds one magic-2 record batch. Records are encoded straight into the batch buffer as they are appended;
/// ``build(compression:level:workspace:)`` then compresses the records section (one pass, one output buffer) and
/// fills in the header: length, CRC-32C, counts, timestamps and producer state.
public struct RecordBatchBuilder {
    private var buffer: ByteBuffer
    /// Values appended by reference (``append(timestamp:key:referencing:headers:)``): each belongs at `offset` bytes
    /// into `buffer`'s readable bytes, where the buffer holds only the bytes around it.
    private var referenced: [ReferencedValue] = []
    private var referencedBytes = 0
    /// Records appended so far.
    public private(set) var recordCount: Int32 = 0
    /// The first record's timestamp; the others are stored as deltas from it.
    public private(set) var baseTimestamp: Int64 = -1
    /// The largest timestamp appended so far; -1 before the first record.
    public private(set) var maxTimestamp: Int64 = -1

    /// The offset written as the batch's base offset (a broker rewrites it on append).
    public var baseOffset: Int64 = 0
    /// The leader epoch written in the header (-1 from a producer).
    public var partitionLeaderEpoch: Int32 = -1
    /// Idempotent producers set these (`-1` when not idempotent).
    public var producerId: Int64 = -1
    /// An idempotent producer's epoch; -1 otherwise.
    public var producerEpoch: Int16 = -1
    /// The sequence number of the first record; -1 for a producer that is not idempotent.
    public var baseSequence: Int32 = -1
    /// Marks the batch as written by a transactional producer.
    public var isTransactional = false
    /// Marks the batch as a control batch (a transaction marker).
    public var isControl = false
    /// Whether the timestamps are the producer's (`createTime`) or to be set by the broker.
    public var timestampType: TimestampType = .createTime

    /// Starts an empty batch.
    ///
    /// - Parameters:
    ///   - allocator: Allocates the batch's buffer.
    ///   - capacity: Bytes to reserve up front; a producer passes its `batch.size` so that the buffer does not grow
    ///     while records are appended.
    public init(allocator: ByteBufferAllocator = ByteBufferAllocator(), capacity: Int = 16 * 1024) {
        buffer = allocator.buffer(capacity: max(capacity, RecordBatchLayout.headerSize))
        buffer.writeRepeatingByte(0, count: RecordBatchLayout.headerSize)
    }

    /// Starts a batch in `buffer`'s storage (its contents are discarded): a producer recycles the buffers of
    /// batches it has sent instead of having fresh memory mapped and zeroed for every batch.
    /// `buffer` is consumed: passed without another reference to its storage, clearing it keeps the storage.
    public init(reusing buffer: consuming ByteBuffer) {
        buffer.clear()
        self.buffer = buffer
        self.buffer.writeRepeatingByte(0, count: RecordBatchLayout.headerSize)
    }

    /// Gives up the buffer the records were written into, leaving the builder empty (without storage of its own).
    /// A producer calls it after compressing a batch, to recycle the uncompressed buffer.
    public mutating func takeBuffer() -> ByteBuffer {
        defer { buffer = ByteBuffer() }
        return buffer
    }

    /// Bytes the builder can hold without growing its buffer, header included.
    public var capacity: Int { buffer.capacity }

    /// Uncompressed size of the batch so far, header included (values appended by reference too).
    public var sizeInBytes: Int { buffer.readableBytes + referencedBytes }

    /// Bytes one record will add to ``sizeInBytes``, computed without encoding it. (Inlinable: a producer calls
    /// it for every record.)
    @inlinable
    public static func encodedSize(
        keyLength: Int?, valueLength: Int?, headers: [RecordHeader] = [], timestampDelta: Int64, offsetDelta: Int32
    ) -> Int {
        let body = bodySize(keyLength: keyLength, valueLength: valueLength, headers: headers,
                            timestampDelta: timestampDelta, offsetDelta: offsetDelta)
        return body + VarintSize.signed(Int64(body))
    }

    /// Appends a record. Key and value bytes are copied once, into the batch; the record is written in a single
    /// pass over bytes reserved for its exact size.
    public mutating func append(
        timestamp: Int64,
        key: UnsafeRawBufferPointer?,
        value: UnsafeRawBufferPointer?,
        headers: [RecordHeader] = []
    ) {
        _ = writeRecord(timestamp: timestamp, key: key, valueLength: value?.count, value: value, headers: headers)
    }

    /// Appends a record whose value is not copied: the batch keeps a reference to `value` and
    /// ``finishReferencing(compression:level:workspace:)`` hands it back to be written in its place. For large
    /// values of a producer's batch: it spares a copy of every value byte, and the memory to hold it.
    public mutating func append(timestamp: Int64, key: UnsafeRawBufferPointer?, referencing value: ByteBuffer,
                                headers: [RecordHeader] = []) {
        let offset = writeRecord(timestamp: timestamp, key: key, valueLength: value.readableBytes, value: nil, headers: headers)
        referenced.append(ReferencedValue(offset: offset, bytes: value))
        referencedBytes += value.readableBytes
    }

    /// Writes a record in one pass over bytes reserved for its exact size. With a `valueLength` but no `value`
    /// bytes, the value is left out (its length is written) and the returned offset, in the buffer's readable
    /// bytes, is where it belongs.
    @inline(__always)
    private mutating func writeRecord(timestamp: Int64, key: UnsafeRawBufferPointer?, valueLength: Int?,
                                      value: UnsafeRawBufferPointer?, headers: [RecordHeader]) -> Int {
        if recordCount == 0 { baseTimestamp = timestamp }
        maxTimestamp = max(maxTimestamp, timestamp)
        let timestampDelta = timestamp &- baseTimestamp
        let offsetDelta = recordCount
        let body = Self.bodySize(keyLength: key?.count, valueLength: valueLength, headers: headers,
                                 timestampDelta: timestampDelta, offsetDelta: offsetDelta)
        let leftOut = value == nil ? (valueLength ?? 0) : 0
        let total = body + VarintSize.signed(Int64(body)) - leftOut
        var valueOffset = buffer.readableBytes
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: total) { destination in
            var out = RawWriter(base: destination.baseAddress!)
            out.varint(Int64(body))
            out.byte(0) // record attributes: unused
            out.varint(timestampDelta)
            out.varint(Int64(offsetDelta))
            out.field(key)
            if let valueLength, value == nil {
                out.varint(Int64(valueLength))
                valueOffset += out.offset
            } else {
                out.field(value)
            }
            out.varint(Int64(headers.count))
            for header in headers {
                var name = header.key
                name.withUTF8 { out.field(UnsafeRawBufferPointer($0)) }
                if let value = header.value {
                    value.withUnsafeReadableBytes { out.field($0) }
                } else {
                    out.field(nil)
                }
            }
            assert(out.offset == total, "record size computed as \(total), wrote \(out.offset)")
            return out.offset
        }
        recordCount += 1
        return valueOffset
    }

    /// Appends a record whose key and value are in `ByteBuffer`s.
    public mutating func append(timestamp: Int64, key: ByteBuffer?, value: ByteBuffer?, headers: [RecordHeader] = []) {
        withOptionalBytes(key) { key in
            withOptionalBytes(value) { value in
                append(timestamp: timestamp, key: key, value: value, headers: headers)
            }
        }
    }

    /// Finishes the batch. With a codec other than `.none` the records section is compressed into a new buffer;
    /// without one the batch is the buffer the records were written into.
    public consuming func build(
        compression: CompressionCodec = .none,
        level: Int? = nil,
        workspace: CompressionWorkspace? = nil
    ) throws(RecordBatchError) -> ByteBuffer {
        try finish(compression: compression, level: level, workspace: workspace)
    }

    /// ``build(compression:level:workspace:)`` for a builder kept in a mutable place (a class's property), where
    /// consuming it would copy its buffer. Without compression the records' buffer moves into the result (the
    /// builder is left empty); with compression it stays in the builder, for ``takeBuffer()``.
    public mutating func finish(
        compression: CompressionCodec = .none,
        level: Int? = nil,
        workspace: CompressionWorkspace? = nil
    ) throws(RecordBatchError) -> ByteBuffer {
        if !referenced.isEmpty {
            buffer = Self.joined(buffer, referenced)
            referenced = []
            referencedBytes = 0
        }
        return try finishWritten(compression: compression, level: level, workspace: workspace)
    }

    /// ``finish(compression:level:workspace:)`` that leaves values appended by reference where they are: without
    /// compression the batch buffer holds the bytes around them, and they are returned to be written in their
    /// places (header and CRC cover them). With compression they are compressed with the rest (none returned).
    public mutating func finishReferencing(
        compression: CompressionCodec = .none,
        level: Int? = nil,
        workspace: CompressionWorkspace? = nil
    ) throws(RecordBatchError) -> (batch: ByteBuffer, values: [ReferencedValue]) {
        guard compression == .none, !referenced.isEmpty else {
            return (try finish(compression: compression, level: level, workspace: workspace), [])
        }
        let values = referenced
        referenced = []
        referencedBytes = 0
        return (try finishWritten(compression: .none, values: values), values)
    }

    /// The batch as it is written: the bytes around each referenced value (slices of `batch`) and the values, in
    /// order.
    public static func pieces(of batch: ByteBuffer, referencing values: [ReferencedValue]) -> [ByteBuffer] {
        var pieces: [ByteBuffer] = []
        pieces.reserveCapacity(2 * values.count + 1)
        var position = 0
        for value in values {
            pieces.append(batch.getSlice(at: batch.readerIndex + position, length: value.offset - position)!)
            pieces.append(value.bytes)
            position = value.offset
        }
        pieces.append(batch.getSlice(at: batch.readerIndex + position, length: batch.readableBytes - position)!)
        return pieces
    }

    /// The batch with the referenced values written in their places (one copy of each).
    public static func joined(_ batch: ByteBuffer, _ values: [ReferencedValue]) -> ByteBuffer {
        let pieces = pieces(of: batch, referencing: values)
        var joined = ByteBufferAllocator().buffer(capacity: pieces.reduce(0) { $0 + $1.readableBytes })
        for piece in pieces { joined.writeImmutableBuffer(piece) }
        return joined
    }

    private mutating func finishWritten(
        compression: CompressionCodec,
        level: Int? = nil,
        workspace: CompressionWorkspace? = nil,
        values: [ReferencedValue] = []
    ) throws(RecordBatchError) -> ByteBuffer {
        var batch: ByteBuffer
        if compression == .none {
            // Moved out, so that writing the header below does not copy the records (copy-on-write).
            batch = buffer
            buffer = ByteBuffer()
        } else {
            let workspace = workspace ?? CompressionWorkspace()
            batch = ByteBufferAllocator().buffer(capacity: RecordBatchLayout.headerSize + buffer.readableBytes / 2)
            batch.writeRepeatingByte(0, count: RecordBatchLayout.headerSize)
            var failure: CompressionError?
            buffer.withUnsafeReadableBytes { raw in
                let records = UnsafeRawBufferPointer(rebasing: raw[RecordBatchLayout.headerSize...])
                do throws(CompressionError) {
                    try workspace.compress(records, codec: compression, level: level, into: &batch)
                } catch {
                    failure = error
                }
            }
            if let failure { throw .compression(failure) }
        }
        let start = batch.readerIndex
        let attributes = RecordBatchAttributes(
            compression: compression, timestampType: timestampType, isTransactional: isTransactional, isControl: isControl
        )
        batch.setInteger(baseOffset, at: start + RecordBatchLayout.baseOffset)
        let valueBytes = values.reduce(0) { $0 + $1.bytes.readableBytes }
        batch.setInteger(Int32(batch.readableBytes + valueBytes - RecordBatchLayout.logOverhead), at: start + RecordBatchLayout.batchLength)
        batch.setInteger(partitionLeaderEpoch, at: start + RecordBatchLayout.partitionLeaderEpoch)
        batch.setInteger(RecordBatchLayout.currentMagic, at: start + RecordBatchLayout.magic)
        batch.setInteger(attributes.rawValue, at: start + RecordBatchLayout.attributes)
        batch.setInteger(max(recordCount - 1, 0), at: start + RecordBatchLayout.lastOffsetDelta)
        batch.setInteger(baseTimestamp, at: start + RecordBatchLayout.baseTimestamp)
        batch.setInteger(maxTimestamp, at: start + RecordBatchLayout.maxTimestamp)
        batch.setInteger(producerId, at: start + RecordBatchLayout.producerId)
        batch.setInteger(producerEpoch, at: start + RecordBatchLayout.producerEpoch)
        batch.setInteger(baseSequence, at: start + RecordBatchLayout.baseSequence)
        batch.setInteger(recordCount, at: start + RecordBatchLayout.recordCount)
        let crc = batch.withUnsafeReadableBytes { raw in
            // Over the bytes from the attributes on, each referenced value in its place.
            var crc: UInt32 = 0
            var position = RecordBatchLayout.attributes
            for value in values {
                crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[position..<value.offset]), continuing: crc)
                crc = value.bytes.withUnsafeReadableBytes { CRC32C.checksum($0, continuing: crc) }
                position = value.offset
            }
            return CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[position...]), continuing: crc)
        }
        batch.setInteger(crc, at: start + RecordBatchLayout.crc)
        return batch
    }

    /// Rewrites the producer id, epoch and base sequence of an encoded batch and recomputes its CRC (they lie
    /// inside the CRC's range). Used when a retried batch must carry new idempotence state.
    public static func rewriteProducerState(in batch: inout ByteBuffer, producerId: Int64, producerEpoch: Int16, baseSequence: Int32) {
        let start = batch.readerIndex
        batch.setInteger(producerId, at: start + RecordBatchLayout.producerId)
        batch.setInteger(producerEpoch, at: start + RecordBatchLayout.producerEpoch)
        batch.setInteger(baseSequence, at: start + RecordBatchLayout.baseSequence)
        let crc = batch.withUnsafeReadableBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[RecordBatchLayout.attributes...])) }
        batch.setInteger(crc, at: start + RecordBatchLayout.crc)
    }

    // MARK: - Encoding helpers

    @inlinable @inline(__always)
    static func bodySize(
        keyLength: Int?, valueLength: Int?, headers: [RecordHeader], timestampDelta: Int64, offsetDelta: Int32
    ) -> Int {
        var size = 1 + VarintSize.signed(timestampDelta) + VarintSize.signed(Int64(offsetDelta))
        size += fieldSize(keyLength) + fieldSize(valueLength)
        size += VarintSize.signed(Int64(headers.count))
        if !headers.isEmpty {
            for header in headers {
                size += fieldSize(header.key.utf8.count) + fieldSize(header.value?.readableBytes)
            }
        }
        return size
    }

    @inlinable @inline(__always)
    static func fieldSize(_ length: Int?) -> Int {
        guard let length else { return 1 } // varint -1
        return VarintSize.signed(Int64(length)) + length
    }
}

/// Writes a record's parts into bytes already reserved for it.
private struct RawWriter {
    let base: UnsafeMutableRawPointer
    var offset = 0

    @inline(__always)
    mutating func byte(_ value: UInt8) {
        base.storeBytes(of: value, toByteOffset: offset, as: UInt8.self)
        offset &+= 1
    }

    /// A zigzag varint; 32-bit values are sign-extended first, which gives the same bytes as Kafka's VARINT.
    @inline(__always)
    mutating func varint(_ value: Int64) {
        var remaining = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        while remaining >= 0x80 {
            byte(UInt8(truncatingIfNeeded: remaining) | 0x80)
            remaining >>= 7
        }
        byte(UInt8(remaining))
    }

    /// A varint length (-1 for null) followed by the bytes.
    @inline(__always)
    mutating func field(_ bytes: UnsafeRawBufferPointer?) {
        guard let bytes else {
            varint(-1)
            return
        }
        varint(Int64(bytes.count))
        if let source = bytes.baseAddress, bytes.count > 0 {
            (base + offset).copyMemory(from: source, byteCount: bytes.count)
            offset &+= bytes.count
        }
    }
}

@inline(__always)
private func withOptionalBytes<R>(_ buffer: ByteBuffer?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
    guard let buffer else { return body(nil) }
    return buffer.withUnsafeReadableBytes { body($0) }
}

/// Sizes of zigzag varints, for sizing records before writing them.
@usableFromInline
enum VarintSize {
    @inlinable @inline(__always)
    static func signed(_ value: Int64) -> Int {
        unsigned(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    @inlinable @inline(__always)
    static func unsigned(_ value: UInt64) -> Int {
        // 7 payload bits per byte; a zero still takes one byte.
        max(1, (64 - value.leadingZeroBitCount + 6) / 7)
    }
}
