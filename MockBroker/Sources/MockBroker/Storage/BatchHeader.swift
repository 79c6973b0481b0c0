import KafkaProtocol
import NIOCore

/// The fields of a stored batch's header that the log needs to find and account for it, read from its first
/// ``RecordBatchLayout/headerSize`` bytes without touching the records.
struct BatchHeader: Sendable, Hashable {
    var baseOffset: Int64
    /// The epoch of the leader that appended the batch.
    var partitionLeaderEpoch: Int32
    /// Bytes of the whole batch, header included.
    var size: Int
    var magic: Int8
    var lastOffsetDelta: Int32
    var maxTimestamp: Int64
    var producerId: Int64
    var producerEpoch: Int16
    var baseSequence: Int32
    var recordCount: Int32
    var attributes: RecordBatchAttributes

    var lastOffset: Int64 { baseOffset &+ Int64(lastOffsetDelta) }
    var nextOffset: Int64 { lastOffset &+ 1 }

    /// Parses the header at `index` of `bytes`; nil when fewer than a header's bytes are there or the length
    /// field is impossible.
    init?(_ bytes: ByteBuffer, at index: Int) {
        guard bytes.writerIndex - index >= RecordBatchLayout.headerSize,
              let length: Int32 = bytes.getInteger(at: index + RecordBatchLayout.batchLength),
              length >= RecordBatchLayout.headerSize - RecordBatchLayout.logOverhead
        else { return nil }
        baseOffset = bytes.getInteger(at: index + RecordBatchLayout.baseOffset)!
        partitionLeaderEpoch = bytes.getInteger(at: index + RecordBatchLayout.partitionLeaderEpoch)!
        size = Int(length) + RecordBatchLayout.logOverhead
        magic = bytes.getInteger(at: index + RecordBatchLayout.magic)!
        attributes = RecordBatchAttributes(rawValue: bytes.getInteger(at: index + RecordBatchLayout.attributes)!)
        lastOffsetDelta = bytes.getInteger(at: index + RecordBatchLayout.lastOffsetDelta)!
        maxTimestamp = bytes.getInteger(at: index + RecordBatchLayout.maxTimestamp)!
        producerId = bytes.getInteger(at: index + RecordBatchLayout.producerId)!
        producerEpoch = bytes.getInteger(at: index + RecordBatchLayout.producerEpoch)!
        baseSequence = bytes.getInteger(at: index + RecordBatchLayout.baseSequence)!
        recordCount = bytes.getInteger(at: index + RecordBatchLayout.recordCount)!
    }

    init(_ batch: RecordBatch) {
        baseOffset = batch.baseOffset
        partitionLeaderEpoch = batch.partitionLeaderEpoch
        size = batch.sizeInBytes
        magic = batch.magic
        lastOffsetDelta = batch.lastOffsetDelta
        maxTimestamp = batch.maxTimestamp
        producerId = batch.producerId
        producerEpoch = batch.producerEpoch
        baseSequence = batch.baseSequence
        recordCount = batch.recordCount
        attributes = batch.attributes
    }
}
