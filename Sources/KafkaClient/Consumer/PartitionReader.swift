import KafkaCompression
import KafkaProtocol
import NIOCore
import Tracing

/// Turns one partition's fetched bytes into records: batches are checked (CRC), decompressed once and iterated;
/// control batches and, for read_committed, aborted transactions are skipped. Each record handed out moves the
/// partition's position past it; when the position was set from outside meanwhile (seek, pause, revocation), the
/// reader stops instead.
@usableFromInline
final class PartitionReader {
    let fetch: CompletedFetch
    /// Called once when the reader goes away, with whether it got through the fetch (or was made stale).
    private let onRelease: (CompletedFetch, _ complete: Bool, _ handedOut: Int) -> Void
    private let position: PartitionPosition
    private let workspace: CompressionWorkspace
    private let checkCRCs: Bool
    private let maxDecompressedBytes: Int
    // The fields read per record skip dynamic exclusivity checks: a reader is used by one task at a time.
    @exclusivity(unchecked) private var batches: RecordBatchReader
    @exclusivity(unchecked) private var records: RecordIterator?
    /// The reader's own copy of where the position is: records before it are not handed out again.
    @exclusivity(unchecked) private var cursor: Int64
    /// Records handed out, counted into the consumed-records metric when the reader goes away.
    @exclusivity(unchecked) private var handedOut = 0
    /// Where the current batch ends: its last records may have been compacted away.
    private var batchNextOffset: Int64 = 0
    private var batchLeaderEpoch: Int32 = -1
    private var timestampType: TimestampType = .createTime
    /// The position was set from outside: nothing more is handed out.
    private var stale = false
    /// read_committed: aborted transactions from the response, by first offset, and the producers now inside one.
    private var pendingAborted: [(producerId: Int64, firstOffset: Int64)]
    private var abortedProducers: Set<Int64> = []
    private let readCommitted: Bool
    /// Set when records are traced: each record handed out gets a receive span.
    private let tracer: (any Tracer)?
    private let clientId: String

    init(_ fetch: CompletedFetch, position: PartitionPosition, workspace: CompressionWorkspace, checkCRCs: Bool,
         maxDecompressedBytes: Int, readCommitted: Bool, tracer: (any Tracer)? = nil, clientId: String = "",
         onRelease: @escaping (CompletedFetch, Bool, Int) -> Void) {
        self.tracer = tracer
        self.clientId = clientId
        self.fetch = fetch
        self.onRelease = onRelease
        self.position = position
        self.workspace = workspace
        self.checkCRCs = checkCRCs
        self.maxDecompressedBytes = maxDecompressedBytes
        self.readCommitted = readCommitted
        cursor = fetch.fetchOffset
        batches = RecordBatchReader(fetch.records)
        pendingAborted = (fetch.abortedTransactions ?? []).sorted { $0.firstOffset < $1.firstOffset }
    }

    deinit {
        onRelease(fetch, stale || cursor >= fetch.nextOffset, handedOut)
    }

    var partition: TopicPartition { fetch.partition }

    /// The application asked for more after everything this reader handed out.
    @usableFromInline
    func markAllProcessed() {
        position.markProcessed(ifEpoch: fetch.epoch)
    }

    /// The next record at or after the position, nil when the fetch is used up (or the reader is stale).
    @usableFromInline
    func next() throws(KafkaConsumerError) -> ConsumerRecord? {
        while !stale {
            if let record = try nextInBatch() { return record }
            guard !stale, let batch = try nextBatch() else { return nil }
            _ = try begin(batch)
        }
        return nil
    }

    /// Every remaining record, for ``KafkaConsumer/batches``: one array sized once, the batch iterator kept in a
    /// local, and the position moved once per batch rather than per record. An error after some records comes
    /// with them, and the position stays at the record that failed.
    func readAll() -> (records: [ConsumerRecord], error: KafkaConsumerError?) {
        var result: [ConsumerRecord] = []
        result.reserveCapacity(batches.recordCountAhead)
        let topic = fetch.partition.topic
        let partition = fetch.partition.partition
        var cursor = self.cursor
        var handedAny = false
        while !stale {
            if var iterator = records {
                records = nil
                let start = result.count
                var last: Int64 = -1
                var failure: KafkaConsumerError?
                while true {
                    let record: Record?
                    do {
                        record = try iterator.next()
                    } catch {
                        failure = .corruptRecords(fetch.partition, "\(error)")
                        break
                    }
                    guard let record else { break }
                    // A compressed batch starts before the position when the fetch began inside it.
                    guard record.offset >= cursor else { continue }
                    last = record.offset
                    var consumed = ConsumerRecord(topic: topic, partition: partition, offset: record.offset,
                                                  timestamp: record.timestamp, timestampType: timestampType,
                                                  key: record.key, value: record.value, headers: record.rawHeaders,
                                                  leaderEpoch: batchLeaderEpoch)
                    if let tracer { consumed.traceContext = traced(consumed, tracer) }
                    result.append(consumed)
                }
                // The batch's records go out with one position update (or not at all, when the reader went stale).
                if last >= 0 {
                    if position.advance(to: last &+ 1, leaderEpoch: batchLeaderEpoch, ifEpoch: fetch.epoch, handingOut: !handedAny) {
                        handedAny = true
                        self.handedOut &+= result.count - start
                        cursor = last &+ 1
                        self.cursor = cursor
                    } else {
                        stale = true
                        result.removeSubrange(start...)
                        break
                    }
                }
                if let failure { return (result, failure) }
                skip(to: batchNextOffset)
                cursor = self.cursor
            }
            do throws(KafkaConsumerError) {
                guard !stale, let batch = try nextBatch() else { break }
                _ = try begin(batch)
                cursor = self.cursor
            } catch {
                return (result, error)
            }
        }
        return (result, nil)
    }

    @inline(__always)
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
                skip(to: batchNextOffset)
                return nil
            }
            // A compressed batch starts before the position when the fetch began inside it.
            guard record.offset >= cursor else { continue }
            guard position.advance(to: record.offset &+ 1, leaderEpoch: batchLeaderEpoch, ifEpoch: fetch.epoch, handingOut: true) else {
                stale = true
                records = nil
                return nil
            }
            cursor = record.offset &+ 1
            handedOut &+= 1
            var consumed = ConsumerRecord(topic: fetch.partition.topic, partition: fetch.partition.partition, offset: record.offset,
                                          timestamp: record.timestamp, timestampType: timestampType, key: record.key,
                                          value: record.value, headers: record.rawHeaders, leaderEpoch: batchLeaderEpoch)
            if let tracer { consumed.traceContext = traced(consumed, tracer) }
            return consumed
        }
    }

    /// The context of a receive span for `record` (only when records are traced).
    private func traced(_ record: ConsumerRecord, _ tracer: any Tracer) -> InstrumentationContext {
        RecordTracing.receive(topic: record.topic, partition: record.partition, offset: record.offset, clientId: clientId,
                              headers: record.headers, tracer: tracer)
    }

    private func nextBatch() throws(KafkaConsumerError) -> RecordBatch? {
        do {
            return try batches.next()
        } catch {
            throw .corruptRecords(fetch.partition, "\(error)")
        }
    }

    /// Moves the position past offsets that hand out no record (control batches, aborted transactions, a batch
    /// whose last records were compacted away, which would otherwise be fetched again and again).
    private func skip(to next: Int64) {
        guard next > cursor else { return }
        guard position.advance(to: next, leaderEpoch: batchLeaderEpoch, ifEpoch: fetch.epoch, handingOut: false) else {
            stale = true
            return
        }
        cursor = next
    }

    /// Starts reading a batch; false when the whole batch is skipped.
    private func begin(_ batch: RecordBatch) throws(KafkaConsumerError) -> Bool {
        guard batch.lastOffset >= cursor else { return false }
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
        batchLeaderEpoch = batch.partitionLeaderEpoch
        batchNextOffset = batch.nextOffset
        if batch.isControl {
            if readCommitted, (try? batch.controlRecordType()) == .abort { abortedProducers.remove(batch.producerId) }
            skip(to: batch.nextOffset)
            return false
        }
        if (readCommitted && batch.isTransactional && abortedProducers.contains(batch.producerId)) || batch.recordCount == 0 {
            skip(to: batch.nextOffset)
            return false
        }
        do {
            records = try batch.records(workspace: workspace, maxDecompressedBytes: maxDecompressedBytes)
        } catch {
            throw .corruptRecords(fetch.partition, "\(error) in batch at offset \(batch.baseOffset)")
        }
        timestampType = batch.timestampType
        return true
    }
}
