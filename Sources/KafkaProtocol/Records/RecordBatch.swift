import KafkaCompression
import NIOCore

/// One magic-2 record batch, read from bytes: the header fields, and the records on demand.
///
/// Creating a `RecordBatch` checks the magic and the length; ``verifyChecksum()`` checks the CRC; iterating
/// ``records(workspace:maxDecompressedBytes:)`` decompresses once and then yields records as slices.
public struct RecordBatch: Sendable, Hashable {
    /// The whole batch, header included.
    public let bytes: ByteBuffer

    /// The offset of the batch's first record (the broker sets it on append).
    public let baseOffset: Int64
    /// The leader epoch of the broker that appended the batch (-1 from a producer).
    public let partitionLeaderEpoch: Int32
    /// The stored CRC-32C of everything from `attributes` to the end.
    public let crc: UInt32
    /// Codec, timestamp type, transactional and control flags.
    public let attributes: RecordBatchAttributes
    /// The offset of the last record, relative to ``baseOffset``.
    public let lastOffsetDelta: Int32
    /// The timestamp the records' timestamp deltas are relative to (milliseconds since the epoch).
    public let baseTimestamp: Int64
    /// The largest record timestamp (the append time on `LogAppendTime` topics).
    public let maxTimestamp: Int64
    /// The idempotent or transactional producer's id; -1 for other producers.
    public let producerId: Int64
    /// The producer's epoch; -1 for other producers.
    public let producerEpoch: Int16
    /// The sequence number of the first record, per producer and partition; -1 for other producers.
    public let baseSequence: Int32
    /// Records the header claims; iteration checks the records section agrees.
    public let recordCount: Int32

    /// Decompressed records larger than this are refused unless the caller passes its own limit.
    public static let defaultMaxDecompressedBytes = 64 * 1024 * 1024

    /// Reads the header of the batch that `bytes` holds exactly.
    public init(_ bytes: ByteBuffer) throws(RecordBatchError) {
        guard bytes.readableBytes >= RecordBatchLayout.magic + 1 else {
            throw .corrupt("\(bytes.readableBytes) bytes is too short for a record batch")
        }
        let start = bytes.readerIndex
        let magic: Int8 = bytes.getInteger(at: start + RecordBatchLayout.magic)!
        guard magic == RecordBatchLayout.currentMagic else { throw .unsupportedMessageFormat(magic: magic) }
        guard bytes.readableBytes >= RecordBatchLayout.headerSize else {
            throw .corrupt("\(bytes.readableBytes) bytes is too short for a record batch header")
        }
        let length: Int32 = bytes.getInteger(at: start + RecordBatchLayout.batchLength)!
        guard Int(length) + RecordBatchLayout.logOverhead == bytes.readableBytes else {
            throw .corrupt("batch length \(length) does not match the \(bytes.readableBytes) bytes given")
        }
        self.bytes = bytes
        baseOffset = bytes.getInteger(at: start + RecordBatchLayout.baseOffset)!
        partitionLeaderEpoch = bytes.getInteger(at: start + RecordBatchLayout.partitionLeaderEpoch)!
        crc = bytes.getInteger(at: start + RecordBatchLayout.crc)!
        attributes = RecordBatchAttributes(rawValue: bytes.getInteger(at: start + RecordBatchLayout.attributes)!)
        lastOffsetDelta = bytes.getInteger(at: start + RecordBatchLayout.lastOffsetDelta)!
        baseTimestamp = bytes.getInteger(at: start + RecordBatchLayout.baseTimestamp)!
        maxTimestamp = bytes.getInteger(at: start + RecordBatchLayout.maxTimestamp)!
        producerId = bytes.getInteger(at: start + RecordBatchLayout.producerId)!
        producerEpoch = bytes.getInteger(at: start + RecordBatchLayout.producerEpoch)!
        baseSequence = bytes.getInteger(at: start + RecordBatchLayout.baseSequence)!
        recordCount = bytes.getInteger(at: start + RecordBatchLayout.recordCount)!
        guard recordCount >= 0 else { throw .corrupt("negative record count \(recordCount)") }
        guard attributes.compression != nil else { throw .unknownCompression(attributes.rawValue) }
    }

    /// The format version: always 2.
    public var magic: Int8 { RecordBatchLayout.currentMagic }
    /// The codec the records section is compressed with.
    public var compression: CompressionCodec { attributes.compression ?? .none }
    /// Whether this is a control batch (a transaction marker), which consumers do not hand out.
    public var isControl: Bool { attributes.isControl }
    /// Whether a transactional producer wrote the batch.
    public var isTransactional: Bool { attributes.isTransactional }
    /// Whether the timestamps are the producer's or the broker's append time.
    public var timestampType: TimestampType { attributes.timestampType }
    /// The offset of the batch's last record.
    public var lastOffset: Int64 { baseOffset &+ Int64(lastOffsetDelta) }
    /// The offset after this batch's last record.
    public var nextOffset: Int64 { lastOffset &+ 1 }
    /// The batch's size, header included.
    public var sizeInBytes: Int { bytes.readableBytes }

    /// The CRC-32C of everything from `attributes` to the end.
    public var computedChecksum: UInt32 {
        bytes.withUnsafeReadableBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[RecordBatchLayout.attributes...])) }
    }

    /// Throws ``RecordBatchError/checksumMismatch(stored:computed:)`` when the stored CRC does not match the bytes.
    public func verifyChecksum() throws(RecordBatchError) {
        let computed = computedChecksum
        guard computed == crc else { throw .checksumMismatch(stored: crc, computed: computed) }
    }

    /// The records, decompressed if needed. Decompression happens here, once; records are then slices of the
    /// decompressed buffer (or of ``bytes`` when uncompressed).
    public func records(
        workspace: CompressionWorkspace? = nil,
        maxDecompressedBytes: Int = RecordBatch.defaultMaxDecompressedBytes
    ) throws(RecordBatchError) -> RecordIterator {
        var section = bytes.getSlice(at: bytes.readerIndex + RecordBatchLayout.headerSize,
                                     length: bytes.readableBytes - RecordBatchLayout.headerSize)!
        if compression != .none {
            let workspace = workspace ?? CompressionWorkspace()
            var decompressed = ByteBuffer()
            var failure: CompressionError?
            section.withUnsafeReadableBytes { compressed in
                do throws(CompressionError) {
                    decompressed = ByteBufferAllocator().buffer(capacity: min(compressed.count * 4, maxDecompressedBytes))
                    try workspace.decompress(compressed, codec: compression, maxOutputBytes: maxDecompressedBytes,
                                             into: &decompressed)
                } catch {
                    failure = error
                }
            }
            if let failure { throw .compression(failure) }
            section = decompressed
        }
        return RecordIterator(batch: self, records: section)
    }

    /// All records in an array (convenience; iterate ``records(workspace:maxDecompressedBytes:)`` on hot paths).
    public func allRecords(workspace: CompressionWorkspace? = nil) throws(RecordBatchError) -> [Record] {
        var iterator = try records(workspace: workspace)
        var result: [Record] = []
        result.reserveCapacity(iterator.maximumRemainingCount)
        while let record = try iterator.next() { result.append(record) }
        return result
    }

    /// For a control batch, the marker its record carries.
    public func controlRecordType() throws(RecordBatchError) -> ControlRecordType? {
        guard isControl else { return nil }
        var iterator = try records()
        guard var key = try iterator.next()?.key, key.readableBytes >= 4 else {
            throw .corrupt("control batch without a control record key")
        }
        _ = key.readInteger(as: Int16.self) // key version
        return ControlRecordType(rawValue: key.readInteger(as: Int16.self)!)
    }
}

/// The marker a control batch carries (transaction end).
public enum ControlRecordType: Sendable, Hashable {
    /// The transaction was aborted, or committed.
    case abort, commit
    /// A marker type this package does not know.
    case unknown(Int16)

    /// The marker type with Kafka's number for it.
    public init(rawValue: Int16) {
        switch rawValue {
        case 0: self = .abort
        case 1: self = .commit
        default: self = .unknown(rawValue)
        }
    }
}

/// Yields a batch's records one at a time, validating each as it goes.
public struct RecordIterator {
    /// What ``check()`` found.
    public enum CheckResult: Sendable {
        /// Every record is well formed, with offset deltas 0, 1, 2, …
        case valid
        /// The record's offset delta is not its index in the batch (a broker refuses this as INVALID_RECORD).
        case offsetDeltaMismatch(recordIndex: Int32, offsetDelta: Int32)
        /// The record (or what follows the last one) is not well formed.
        case malformed(recordIndex: Int32, RecordBatchError)
    }

    /// Walks every remaining record's framing in one pass over the raw bytes, without making records: the check a
    /// broker makes before appending a batch (each record well formed, offset deltas 0, 1, 2, …, nothing left
    /// over).
    public consuming func check() -> CheckResult {
        let count = remaining
        return buffer.withUnsafeReadableBytes { bytes in
            var start = 0
            var index: Int32 = 0
            var mismatch: CheckResult?
            while index < count {
                let framing: RecordFraming
                do throws(RecordBatchError) {
                    framing = try RecordFraming.parse(UnsafeRawBufferPointer(rebasing: bytes[start...]))
                } catch {
                    return .malformed(recordIndex: index, error)
                }
                if mismatch == nil, framing.offsetDelta != index {
                    mismatch = .offsetDeltaMismatch(recordIndex: index, offsetDelta: framing.offsetDelta)
                }
                start += framing.size
                index += 1
            }
            guard start == bytes.count else {
                return .malformed(recordIndex: count, .corrupt("\(bytes.count - start) bytes after the last record"))
            }
            return mismatch ?? .valid
        }
    }

    private var buffer: ByteBuffer
    private var remaining: Int32
    private let baseOffset: Int64
    private let baseTimestamp: Int64
    private let logAppendTime: Int64?

    init(batch: RecordBatch, records: ByteBuffer) {
        buffer = records
        remaining = batch.recordCount
        baseOffset = batch.baseOffset
        baseTimestamp = batch.baseTimestamp
        logAppendTime = batch.timestampType == .logAppendTime ? batch.maxTimestamp : nil
    }

    /// How many records can still follow: the header's count, but no more than the bytes left can hold (a
    /// hostile count must not size an allocation).
    var maximumRemainingCount: Int {
        min(Int(remaining), buffer.readableBytes / RecordFraming.minimumSize)
    }

    /// The next record, nil after the last; throws when the section disagrees with the header or a length is bad.
    /// Reads in place: the framing in one pass over the bytes (`RecordFraming`), then the key, value and (when
    /// present) header slices, which are the only references taken.
    public mutating func next() throws(RecordBatchError) -> Record? {
        guard remaining > 0 else {
            guard buffer.readableBytes == 0 else {
                throw .corrupt("\(buffer.readableBytes) bytes after the last record")
            }
            return nil
        }
        remaining -= 1
        let framing: RecordFraming
        do {
            framing = try buffer.withUnsafeReadableBytes { bytes in try RecordFraming.parse(bytes) }
        } catch let error as RecordBatchError {
            throw error
        } catch {
            throw .corrupt("\(error)")
        }
        let start = buffer.readerIndex
        let key = framing.keyLength >= 0 ? buffer.getSlice(at: start + framing.keyStart, length: framing.keyLength) : nil
        let value = framing.valueLength >= 0 ? buffer.getSlice(at: start + framing.valueStart, length: framing.valueLength) : nil
        var headers = RecordHeaders.empty
        if framing.headerCount > 0, let encoded = buffer.getSlice(at: start + framing.headersStart, length: framing.headersLength) {
            headers = RecordHeaders(count: framing.headerCount, encoded: encoded)
        }
        buffer.moveReaderIndex(forwardBy: framing.size)
        return Record(
            offset: baseOffset &+ Int64(framing.offsetDelta),
            timestamp: logAppendTime ?? baseTimestamp &+ framing.timestampDelta,
            key: key,
            value: value,
            rawHeaders: headers
        )
    }
}

/// Reads the batches of a records field (a fetched partition, a produce payload) one by one. A trailing partial
/// batch, which a broker may send when it cuts a response at `max_bytes`, ends the sequence without an error.
public struct RecordBatchReader {
    private var buffer: ByteBuffer

    /// A reader over the batches in `buffer` (a Fetch partition's or a Produce request's records).
    public init(_ buffer: ByteBuffer) {
        self.buffer = buffer
    }

    /// Bytes not yet returned as batches (after the end: the size of a truncated tail, if any).
    public var remainingBytes: Int { buffer.readableBytes }

    /// The sum of the record counts in the complete batch headers ahead, read without decoding anything (to size
    /// an array once). Corrupt headers end the count early; ``next()`` reports them. A header's count is believed up
    /// to one record per 7 bytes of its batch (the smallest a record can be), so that a hostile count cannot size
    /// a huge array; a compressed batch holding more records than that makes the array grow instead.
    public var recordCountAhead: Int {
        var index = buffer.readerIndex
        let end = buffer.writerIndex
        var count = 0
        while end - index >= RecordBatchLayout.headerSize,
              let length: Int32 = buffer.getInteger(at: index + RecordBatchLayout.batchLength),
              length >= RecordBatchLayout.headerSize - RecordBatchLayout.logOverhead,
              Int(length) + RecordBatchLayout.logOverhead <= end - index,
              let records: Int32 = buffer.getInteger(at: index + RecordBatchLayout.recordCount), records >= 0 {
            let recordsBytes = Int(length) + RecordBatchLayout.logOverhead - RecordBatchLayout.headerSize
            count += min(Int(records), recordsBytes / RecordFraming.minimumSize)
            index += Int(length) + RecordBatchLayout.logOverhead
        }
        return count
    }

    /// The next whole batch; nil at the end or at a truncated last batch. Throws for a batch of an older format or
    /// a corrupt header.
    public mutating func next() throws(RecordBatchError) -> RecordBatch? {
        guard buffer.readableBytes >= RecordBatchLayout.logOverhead else { return nil }
        let length: Int32 = buffer.getInteger(at: buffer.readerIndex + RecordBatchLayout.batchLength)!
        if buffer.readableBytes > RecordBatchLayout.magic,
           let magic: Int8 = buffer.getInteger(at: buffer.readerIndex + RecordBatchLayout.magic),
           magic != RecordBatchLayout.currentMagic {
            throw .unsupportedMessageFormat(magic: magic)
        }
        guard length >= RecordBatchLayout.headerSize - RecordBatchLayout.logOverhead else {
            throw .corrupt("batch length \(length)")
        }
        let total = Int(length) + RecordBatchLayout.logOverhead
        guard buffer.readableBytes >= total else { return nil } // truncated tail
        return try RecordBatch(buffer.readSlice(length: total)!)
    }
}
