import KafkaCompression
import KafkaProtocol
import NIOCore

/// The records on their way to one partition in one record batch, with what is needed to report each
/// record's outcome.
///
/// While open it lives in the accumulator and is changed only under its lock; once drained it belongs to the
/// sender's event loop (and goes back to the accumulator, under its lock, for a retry).
final class ProducerBatch: @unchecked Sendable {
    let serial: UInt64
    let topic: String
    let partition: Int32
    let createdAt: NIODeadline
    /// Bytes taken from `buffer.memory` for this batch.
    let reservedBytes: Int

    private var builder: RecordBatchBuilder
    /// The encoded batch, once closed (compressed, with producer state and CRC).
    private(set) var encoded: ByteBuffer?
    /// No more records go in.
    private(set) var isFull = false

    private(set) var recordIds: [UInt64] = []
    private(set) var timestamps: [Int64] = []
    /// Callers of `send` waiting for their record's outcome, by index in the batch.
    private(set) var waiters: [(index: Int, continuation: CheckedContinuation<RecordMetadata, any Error>)] = []

    /// Set on the pieces of a batch split after MESSAGE_TOO_LARGE: they count as the original for `flush`.
    var splitGroup: SplitGroup?
    /// Order of a piece among the pieces of one original.
    var splitIndex = 0

    var attempts = 0
    var retryAt: NIODeadline?
    var lastError: String?
    /// Idempotence: the sequence of the first record, -1 until assigned.
    var baseSequence: Int32 = -1
    var producerId: Int64 = -1
    var producerEpoch: Int16 = -1

    init(serial: UInt64, topic: String, partition: Int32, reservedBytes: Int, now: NIODeadline, capacity: Int? = nil) {
        self.serial = serial
        self.topic = topic
        self.partition = partition
        self.reservedBytes = reservedBytes
        createdAt = now
        builder = RecordBatchBuilder(capacity: capacity ?? reservedBytes)
    }

    var recordCount: Int { recordIds.count }
    var sizeInBytes: Int { encoded?.readableBytes ?? builder.sizeInBytes }
    var isClosed: Bool { encoded != nil }

    /// Appends when the record fits within `limit` bytes (an empty batch takes any record).
    func tryAppend(
        id: UInt64, timestamp: Int64, key: (any KafkaBytes)?, value: (any KafkaBytes)?, headers: [RecordHeader],
        recordSize: Int, limit: Int, waiter: CheckedContinuation<RecordMetadata, any Error>?
    ) -> Bool {
        guard !isFull, encoded == nil else { return false }
        if !recordIds.isEmpty && builder.sizeInBytes + recordSize > limit { return false }
        withOptionalBytes(key) { key in
            withOptionalBytes(value) { value in
                builder.append(timestamp: timestamp, key: key, value: value, headers: headers)
            }
        }
        if let waiter { waiters.append((recordIds.count, waiter)) }
        recordIds.append(id)
        timestamps.append(timestamp)
        return true
    }

    /// Stops further appends (it is full, or being sent).
    func markFull() { isFull = true }

    /// Encodes the batch: compression and producer state are applied once, here.
    func close(compression: CompressionCodec, level: Int?, workspace: CompressionWorkspace) throws(RecordBatchError) -> ByteBuffer {
        if let encoded { return encoded }
        isFull = true
        builder.producerId = producerId
        builder.producerEpoch = producerEpoch
        builder.baseSequence = baseSequence
        let built = try builder.build(compression: compression, level: level, workspace: workspace)
        encoded = built
        builder = RecordBatchBuilder(capacity: 0) // release the uncompressed buffer
        return built
    }

    /// Rewrites producer id, epoch and sequence of an encoded batch being retried under new idempotence state.
    func reassignProducerState(producerId: Int64, epoch: Int16, baseSequence: Int32) {
        self.producerId = producerId
        producerEpoch = epoch
        self.baseSequence = baseSequence
        if var bytes = encoded {
            RecordBatchBuilder.rewriteProducerState(in: &bytes, producerId: producerId, producerEpoch: epoch,
                                                    baseSequence: baseSequence)
            encoded = bytes
        }
    }

    /// Reports every record's outcome: returns the delivery reports and resumes the waiting callers.
    func complete(_ outcome: Result<(baseOffset: Int64, logAppendTime: Int64), KafkaProducerError>) -> [DeliveryReport] {
        var reports: [DeliveryReport] = []
        reports.reserveCapacity(recordIds.count)
        switch outcome {
        case .success(let (baseOffset, logAppendTime)):
            for (index, id) in recordIds.enumerated() {
                let metadata = RecordMetadata(
                    topic: topic, partition: partition, offset: baseOffset < 0 ? -1 : baseOffset + Int64(index),
                    timestamp: logAppendTime >= 0 ? logAppendTime : timestamps[index]
                )
                reports.append(DeliveryReport(id: ProducerRecordID(rawValue: id), result: .success(metadata)))
            }
            for waiter in waiters {
                if case .success(let metadata) = reports[waiter.index].result { waiter.continuation.resume(returning: metadata) }
            }
        case .failure(let error):
            for id in recordIds {
                reports.append(DeliveryReport(id: ProducerRecordID(rawValue: id), result: .failure(error)))
            }
            for waiter in waiters { waiter.continuation.resume(throwing: error) }
        }
        waiters = []
        return reports
    }

    /// The records, for splitting a batch the broker found too large.
    func decodedRecords() throws -> [Record] {
        guard let encoded else { return [] }
        return try RecordBatch(encoded).allRecords()
    }

    /// Removes and returns the caller waiting for record `index`, if any (when the record moves to a piece).
    func takeWaiter(at index: Int) -> CheckedContinuation<RecordMetadata, any Error>? {
        guard let position = waiters.firstIndex(where: { $0.index == index }) else { return nil }
        return waiters.remove(at: position).continuation
    }

    /// The pieces still to complete of a split batch.
    final class SplitGroup: @unchecked Sendable {
        var remaining = 0
    }
}

@inline(__always)
private func withOptionalBytes<R>(_ bytes: (any KafkaBytes)?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
    guard let bytes else { return body(nil) }
    return bytes.withKafkaBytes { body($0) }
}
