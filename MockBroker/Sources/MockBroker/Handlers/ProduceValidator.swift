import KafkaCompression
import KafkaProtocol
import NIOPosix

/// The checks Kafka makes on a partition's records before appending them: exactly one batch, magic 2, a valid
/// CRC, a known codec, within `max.message.bytes`, not a control batch, and records whose framing and offset
/// deltas agree with the header. Compressed batches are decompressed to check their records, and then stored as
/// they came.
enum ProduceValidator {
    struct Rejection: Error, Equatable {
        var code: KafkaErrorCode
        var message: String
        /// For INVALID_RECORD: the index of the offending record within the batch.
        var recordIndex: Int32?
    }

    /// Decompression scratch space, one per event-loop thread.
    /// (`ThreadSpecificVariable` is safe across threads by construction; each thread sees its own value.)
    nonisolated(unsafe) private static let workspaces = ThreadSpecificVariable<CompressionWorkspace>()

    static func validate(_ records: RecordSet?, maxMessageBytes: Int) -> Result<RecordBatch, Rejection> {
        guard let bytes = records?.buffer, bytes.readableBytes > 0 else {
            return .failure(Rejection(code: .invalidRecord, message: "Produce request contains no record batch"))
        }
        var reader = RecordBatchReader(bytes)
        let batch: RecordBatch
        do {
            guard let first = try reader.next() else {
                return .failure(Rejection(code: .corruptMessage, message: "Record batch is truncated"))
            }
            batch = first
        } catch .unsupportedMessageFormat(let magic) {
            return .failure(Rejection(code: .unsupportedForMessageFormat,
                                      message: "Record batches with magic \(magic) are not supported; only magic 2"))
        } catch .unknownCompression {
            return .failure(Rejection(code: .unsupportedCompressionType, message: "Unknown compression codec"))
        } catch {
            return .failure(Rejection(code: .corruptMessage, message: "\(error)"))
        }
        guard reader.remainingBytes == 0 else {
            return .failure(Rejection(code: .invalidRecord,
                                      message: "Produce requests must contain exactly one record batch per partition"))
        }
        guard batch.sizeInBytes <= maxMessageBytes else {
            return .failure(Rejection(code: .messageTooLarge,
                                      message: "Batch of \(batch.sizeInBytes) bytes exceeds max.message.bytes \(maxMessageBytes)"))
        }
        do {
            try batch.verifyChecksum()
        } catch {
            return .failure(Rejection(code: .corruptMessage, message: "\(error)"))
        }
        guard !batch.isControl else {
            return .failure(Rejection(code: .invalidRecord, message: "Clients may not write control batches"))
        }
        guard batch.recordCount > 0, batch.lastOffsetDelta == batch.recordCount - 1 else {
            return .failure(Rejection(code: .invalidRecord,
                                      message: "Record count \(batch.recordCount) disagrees with last offset delta \(batch.lastOffsetDelta)"))
        }
        return validateRecords(of: batch).map { batch }
    }

    private static func validateRecords(of batch: RecordBatch) -> Result<Void, Rejection> {
        let workspace = workspaces.currentValue ?? {
            let created = CompressionWorkspace()
            workspaces.currentValue = created
            return created
        }()
        // One raw pass over the records' framing: no record is made (no slices, no reference counting per record).
        let records: RecordIterator
        do {
            records = try batch.records(workspace: workspace)
        } catch {
            return .failure(Rejection(code: .corruptMessage, message: "Record 0 is invalid: \(error)", recordIndex: 0))
        }
        switch records.check() {
        case .valid:
            break
        case let .offsetDeltaMismatch(index, delta):
            return .failure(Rejection(code: .invalidRecord, message: "Record \(index) has offset delta \(delta)", recordIndex: index))
        case let .malformed(index, error):
            return .failure(Rejection(code: .corruptMessage, message: "Record \(index) is invalid: \(error)", recordIndex: index))
        }
        return .success(())
    }
}
