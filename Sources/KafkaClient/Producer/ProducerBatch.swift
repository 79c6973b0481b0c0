import KafkaCompression
import KafkaProtocol
import NIOCore
import Tracing

/// The records on their way to one partition in one record batch, with what is needed to report each
/// record's outcome.
///
/// While open it lives in the accumulator and is changed only under its lock; once drained it belongs to the
/// sender's event loop (and goes back to the accumulator, under its lock, for a retry).
final class ProducerBatch: @unchecked Sendable {
    /// Values this large (in a `ByteBuffer`) are referenced by an uncompressed batch rather than copied into it.
    static let valueReferenceThreshold = 2048

    let serial: UInt64
    let topic: String
    let partition: Int32
    let createdAt: NIODeadline
    /// Bytes taken from `buffer.memory` for this batch. It grows with the batch (see ``reserveRoom(for:limit:memory:)``);
    /// while open it changes under the accumulator's lock, and is given back once the batch is done.
    @exclusivity(unchecked) private(set) var reservedBytes: Int

    // Fields the record path touches are exempt from dynamic exclusivity checks: they change only under the
    // accumulator's lock (while open) or on the sender's event loop (once drained), never both at once.
    @exclusivity(unchecked) private var builder: RecordBatchBuilder
    /// The encoded batch, once closed (compressed, with producer state and CRC). With referenced values it holds
    /// the bytes around them.
    private(set) var encoded: ByteBuffer?
    /// Values of at least this many bytes are referenced, not copied (nil: all are copied, as for a batch that
    /// will be compressed).
    private let referencingValuesFrom: Int?
    /// Large values the batch refers to instead of holding copies: written in their places when it is sent.
    private var referencedValues: [ReferencedValue] = []
    /// No more records go in.
    @exclusivity(unchecked) private(set) var isFull = false

    @exclusivity(unchecked) private(set) var recordIds: [UInt64] = []
    @exclusivity(unchecked) private(set) var timestamps: [Int64] = []
    /// Callers of `send` waiting for their record's outcome, by index in the batch.
    private(set) var waiters: [(index: Int, waiter: RecordWaiter)] = []

    /// Set on the pieces of a batch split after MESSAGE_TOO_LARGE: they count as the original for `flush`.
    var splitGroup: SplitGroup?
    /// Order of a piece among the pieces of one original.
    var splitIndex = 0

    var attempts = 0
    /// The batch's size before compression (known once closed), for the compression-ratio metric.
    private(set) var uncompressedBytes = 0
    var retryAt: NIODeadline?
    var lastError: String?
    /// Idempotence: the sequence of the first record, -1 until assigned.
    var baseSequence: Int32 = -1
    var producerId: Int64 = -1
    var producerEpoch: Int16 = -1

    /// - Parameter buffer: storage of a finished batch to write into (see ``MemoryPool``), else a new buffer of
    ///   `capacity` (or `reservedBytes`) is allocated.
    /// - Parameter referencingValuesFrom: values of at least this many bytes, held in a `ByteBuffer`, are referenced
    ///   rather than copied (uncompressed batches: the value is written from the caller's buffer).
    init(serial: UInt64, topic: String, partition: Int32, reservedBytes: Int, now: NIODeadline, capacity: Int? = nil,
         buffer: consuming ByteBuffer? = nil, referencingValuesFrom: Int? = nil) {
        self.referencingValuesFrom = referencingValuesFrom
        self.serial = serial
        self.topic = topic
        self.partition = partition
        self.reservedBytes = reservedBytes
        createdAt = now
        // Consumed, not copied: the recycled storage must stay uniquely referenced, or clearing it copies it.
        builder = switch consume buffer {
        case .some(let buffer): RecordBatchBuilder(reusing: buffer)
        case .none: RecordBatchBuilder(capacity: capacity ?? reservedBytes)
        }
    }

    var recordCount: Int { recordIds.count }
    /// Records whose `send` caller waits for the outcome.
    var waiterCount: Int { waiters.reduce(0) { $0 + ($1.waiter.continuation == nil ? 0 : 1) } }
    var sizeInBytes: Int {
        guard let encoded else { return builder.sizeInBytes }
        return referencedValues.reduce(encoded.readableBytes) { $0 + $1.bytes.readableBytes }
    }
    var isClosed: Bool { encoded != nil }

    /// Makes room for a record of `recordSize` bytes within `limit` (`batch.size`). When the batch has used its share
    /// of `buffer.memory`, it takes more if it can without waiting: twice its share, so a batch that fills to
    /// `batch.size` asks a few times and one holding a few records holds a few kilobytes. False when the record
    /// does not fit, or memory is short now (the caller then closes the batch and starts another, which may wait).
    @inline(__always)
    func reserveRoom(for recordSize: Int, limit: Int, memory: MemoryPool) -> Bool {
        let needed = builder.sizeInBytes + recordSize
        if needed <= reservedBytes { return true }
        guard needed <= limit else { return false }
        let grown = min(max(needed, 2 * reservedBytes), limit)
        guard memory.tryReserve(grown - reservedBytes) else { return false }
        reservedBytes = grown
        return true
    }

    /// Appends when the record fits within `limit` bytes (an empty batch takes any record).
    func tryAppend(
        id: UInt64, timestamp: Int64, key: RecordBytes?, value: RecordBytes?, headers: [RecordHeader],
        recordSize: Int, limit: Int, waiter: RecordWaiter?
    ) -> Bool {
        guard !isFull, encoded == nil else { return false }
        if recordIds.isEmpty {
            // Sized once for as many records like this first one as the batch holds (not grown by doubling).
            let expected = min(max(builder.capacity / max(recordSize, 1), 1), 16_384)
            recordIds.reserveCapacity(expected)
            timestamps.reserveCapacity(expected)
        } else if builder.sizeInBytes + recordSize > limit {
            return false
        }
        if let threshold = referencingValuesFrom, case .buffer(let large)? = value, large.readableBytes >= threshold {
            withOptionalBytes(key) { key in builder.append(timestamp: timestamp, key: key, referencing: large, headers: headers) }
        } else {
            withOptionalBytes(key) { key in
                withOptionalBytes(value) { value in
                    builder.append(timestamp: timestamp, key: key, value: value, headers: headers)
                }
            }
        }
        if let waiter { waiters.append((recordIds.count, waiter)) }
        recordIds.append(id)
        timestamps.append(timestamp)
        return true
    }

    /// Stops further appends (it is full, or being sent).
    func markFull() { isFull = true }

    /// Encodes the batch: compression and producer state are applied once, here. With compression, the buffer
    /// the records were written into is no longer needed and goes to `recycle`.
    func close(compression: CompressionCodec, level: Int?, workspace: CompressionWorkspace,
               recycle: (ByteBuffer) -> Void) throws(RecordBatchError) -> RecordSet {
        if let encoded { return records(of: encoded) }
        isFull = true
        builder.producerId = producerId
        builder.producerEpoch = producerEpoch
        builder.baseSequence = baseSequence
        uncompressedBytes = builder.sizeInBytes
        let (built, values) = try builder.finishReferencing(compression: compression, level: level, workspace: workspace)
        // Uncompressed, `built` is the records' buffer itself; compressed, that buffer is free now.
        let records = builder.takeBuffer()
        if compression != .none { recycle(records) }
        encoded = built
        referencedValues = values
        return self.records(of: built)
    }

    /// The encoded batch as it goes out: one buffer, or the bytes around each referenced value and the values.
    private func records(of batch: ByteBuffer) -> RecordSet {
        guard !referencedValues.isEmpty else { return RecordSet(batch) }
        return RecordSet(pieces: RecordBatchBuilder.pieces(of: batch, referencing: referencedValues))
    }

    /// The encoded batch's buffer, for the next batch, once the batch is done (its records were reported). The
    /// referenced values are let go.
    func takeEncodedBuffer() -> ByteBuffer? {
        defer {
            encoded = nil
            referencedValues = []
        }
        return encoded
    }

    /// The encoded batch in one buffer, referenced values written in (a copy), for the rare paths that rewrite or
    /// decode it.
    private func joinReferencedValues() {
        guard let batch = encoded, !referencedValues.isEmpty else { return }
        encoded = RecordBatchBuilder.joined(batch, referencedValues)
        referencedValues = []
    }

    /// Rewrites producer id, epoch and sequence of an encoded batch being retried under new idempotence state.
    func reassignProducerState(producerId: Int64, epoch: Int16, baseSequence: Int32) {
        self.producerId = producerId
        producerEpoch = epoch
        self.baseSequence = baseSequence
        joinReferencedValues()
        if var bytes = encoded {
            encoded = nil // the only reference, so that the rewrite does not copy the batch
            RecordBatchBuilder.rewriteProducerState(in: &bytes, producerId: producerId, producerEpoch: epoch,
                                                    baseSequence: baseSequence)
            encoded = bytes
        }
    }

    /// Reports every record's outcome: returns the delivery reports and resumes the waiting callers.
    func complete(_ outcome: Result<(baseOffset: Int64, logAppendTime: Int64), KafkaProducerError>) -> DeliveryReports {
        let reports: DeliveryReports
        switch outcome {
        case .success(let (baseOffset, logAppendTime)):
            reports = DeliveryReports(topic: topic, partition: partition, error: nil, baseOffset: baseOffset,
                                      logAppendTime: logAppendTime, ids: recordIds, timestamps: timestamps)
            for (index, waiter) in waiters { waiter.resume(.success(reports.metadata(at: index))) }
        case .failure(let error):
            reports = DeliveryReports(topic: topic, partition: partition, error: error, baseOffset: -1, logAppendTime: -1,
                                      ids: recordIds, timestamps: timestamps)
            for (_, waiter) in waiters { waiter.resume(.failure(error)) }
        }
        waiters = []
        return reports
    }

    /// The records, for splitting a batch the broker found too large.
    func decodedRecords() throws -> [Record] {
        joinReferencedValues()
        guard let encoded else { return [] }
        return try RecordBatch(encoded).allRecords()
    }

    /// Removes and returns the caller waiting for record `index`, if any (when the record moves to a piece).
    func takeWaiter(at index: Int) -> RecordWaiter? {
        guard let position = waiters.firstIndex(where: { $0.index == index }) else { return nil }
        return waiters.remove(at: position).waiter
    }

    /// The pieces still to complete of a split batch.
    /// `@unchecked Sendable`: `remaining` is read and written under the accumulator's lock only.
    final class SplitGroup: @unchecked Sendable {
        var remaining = 0
    }
}

/// Who waits for a record's outcome besides the delivery reports: a `send` caller, and the record's trace span. A
/// class, so that the record path (where most records have neither) tests and passes an optional reference rather
/// than optionals of resilient generic types, which cost witness-table calls per record.
final class RecordWaiter: Sendable {
    let continuation: CheckedContinuation<RecordMetadata, any Error>?
    let span: (any Span)?

    init(_ continuation: CheckedContinuation<RecordMetadata, any Error>?, span: (any Span)? = nil) {
        self.continuation = continuation
        self.span = span
    }

    func resume(_ result: Result<RecordMetadata, KafkaProducerError>) {
        if let span { RecordTracing.endSend(span, result: result) }
        switch result {
        case .success(let metadata): continuation?.resume(returning: metadata)
        case .failure(let error): continuation?.resume(throwing: error)
        }
    }
}
