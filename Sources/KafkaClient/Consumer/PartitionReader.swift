import KafkaCompression
import KafkaProtocol
import NIOCore

/// Turns one partition's fetched bytes into records, one at a time: batches are checked (CRC), decompressed once
/// and iterated; control batches and, for read_committed, aborted transactions are skipped. Each record handed
/// out moves the partition's position past it.
final class PartitionReader {
    let fetch: CompletedFetch
    /// Called once when the reader goes away (done or abandoned), with whether every record was read.
    private let onRelease: (CompletedFetch, _ complete: Bool) -> Void
    private let position: PartitionPosition
    private let workspace: CompressionWorkspace
    private let checkCRCs: Bool
    private let maxDecompressedBytes: Int
    private var batches: RecordBatchReader
    private var records: RecordIterator?
    private var batchLeaderEpoch: Int32 = -1
    private var timestampType: TimestampType = .createTime
    /// read_committed: aborted transactions from the response, by first offset, and the producers now inside one.
    private var pendingAborted: [(producerId: Int64, firstOffset: Int64)]
    private var abortedProducers: Set<Int64> = []
    private let readCommitted: Bool

    init(_ fetch: CompletedFetch, position: PartitionPosition, workspace: CompressionWorkspace, checkCRCs: Bool,
         maxDecompressedBytes: Int, readCommitted: Bool, onRelease: @escaping (CompletedFetch, Bool) -> Void) {
        self.fetch = fetch
        self.onRelease = onRelease
        self.position = position
        self.workspace = workspace
        self.checkCRCs = checkCRCs
        self.maxDecompressedBytes = maxDecompressedBytes
        self.readCommitted = readCommitted
        batches = RecordBatchReader(fetch.records)
        pendingAborted = (fetch.abortedTransactions ?? []).sorted { $0.firstOffset < $1.firstOffset }
    }

    deinit {
        onRelease(fetch, position.value >= fetch.nextOffset)
    }

    var partition: TopicPartition { fetch.partition }

    /// The next record at or after the position, nil when the fetch is used up.
    func next() throws(KafkaConsumerError) -> ConsumerRecord? {
        while true {
            if let record = try nextInBatch() { return record }
            let batch: RecordBatch
            do {
                guard let next = try batches.next() else { return nil }
                batch = next
            } catch {
                throw .corruptRecords(fetch.partition, "\(error)")
            }
            guard try begin(batch) else { continue }
        }
    }

    /// Every remaining record, for ``KafkaConsumer/batches``: one array sized once, the batch iterator kept in a
    /// local, and the position moved once per batch rather than per record.
    func readAll() throws(KafkaConsumerError) -> [ConsumerRecord] {
        var result: [ConsumerRecord] = []
        result.reserveCapacity(batches.recordCountAhead)
        let topic = fetch.partition.topic
        let partition = fetch.partition.partition
        while true {
            if var iterator = records {
                records = nil
                let start = position.value
                var last: Int64 = -1
                while true {
                    let record: Record?
                    do {
                        record = try iterator.next()
                    } catch {
                        if last >= 0 { position.store(last &+ 1, leaderEpoch: batchLeaderEpoch) }
                        throw .corruptRecords(fetch.partition, "\(error)")
                    }
                    guard let record else { break }
                    // A compressed batch starts before the position when the fetch began inside it.
                    guard record.offset >= start else { continue }
                    last = record.offset
                    result.append(ConsumerRecord(topic: topic, partition: partition, offset: record.offset,
                                                 timestamp: record.timestamp, timestampType: timestampType,
                                                 key: record.key, value: record.value, headers: record.rawHeaders,
                                                 leaderEpoch: batchLeaderEpoch))
                }
                if last >= 0 { position.store(last &+ 1, leaderEpoch: batchLeaderEpoch) }
            }
            let batch: RecordBatch
            do {
                guard let next = try batches.next() else { return result }
                batch = next
            } catch {
                throw .corruptRecords(fetch.partition, "\(error)")
            }
            _ = try begin(batch)
        }
    }

    private func nextInBatch() throws(KafkaConsumerError) -> ConsumerRecord? {
        guard records != nil else { return nil }
        while true {
            let record: Record?
            do {
                record = try records!.next()
            } catch {
                records = nil
                throw .corruptRecords(fetch.partition, "\(error)")
            }
            guard let record else {
                records = nil
                return nil
            }
            // A compressed batch starts before the position when the fetch began inside it.
            guard record.offset >= position.value else { continue }
            position.store(record.offset &+ 1, leaderEpoch: batchLeaderEpoch)
            return ConsumerRecord(topic: fetch.partition.topic, partition: fetch.partition.partition, offset: record.offset,
                                  timestamp: record.timestamp, timestampType: timestampType, key: record.key, value: record.value,
                                  headers: record.rawHeaders, leaderEpoch: batchLeaderEpoch)
        }
    }

    /// Starts reading a batch; false when the whole batch is skipped (the position then moves past it, or the
    /// next fetch would return it again).
    private func begin(_ batch: RecordBatch) throws(KafkaConsumerError) -> Bool {
        guard batch.lastOffset >= position.value else { return false }
        if checkCRCs {
            do {
                try batch.verifyChecksum()
            } catch {
                throw .corruptRecords(fetch.partition, "\(error) in batch at offset \(batch.baseOffset)")
            }
        }
        if readCommitted {
            while let next = pendingAborted.first, next.firstOffset <= batch.lastOffset {
                abortedProducers.insert(next.producerId)
                pendingAborted.removeFirst()
            }
        }
        if batch.isControl {
            if readCommitted, (try? batch.controlRecordType()) == .abort { abortedProducers.remove(batch.producerId) }
            position.store(batch.nextOffset, leaderEpoch: batch.partitionLeaderEpoch)
            return false
        }
        if readCommitted && batch.isTransactional && abortedProducers.contains(batch.producerId) {
            position.store(batch.nextOffset, leaderEpoch: batch.partitionLeaderEpoch)
            return false
        }
        if batch.recordCount == 0 {
            position.store(batch.nextOffset, leaderEpoch: batch.partitionLeaderEpoch)
            return false
        }
        do {
            records = try batch.records(workspace: workspace, maxDecompressedBytes: maxDecompressedBytes)
        } catch {
            throw .corruptRecords(fetch.partition, "\(error) in batch at offset \(batch.baseOffset)")
        }
        batchLeaderEpoch = batch.partitionLeaderEpoch
        timestampType = batch.timestampType
        return true
    }
}
