import KafkaProtocol
import NIOConcurrencyHelpers
import NIOCore

/// A topic and partition.
public struct TopicPartition: Sendable, Hashable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public var description: String { "\(topic)-\(partition)" }
}

/// Collects records into per-partition batches. `send` appends under one lock and returns; the sender drains
/// batches that are ready (full, lingered long enough, flushed, or needed to free memory), one request per
/// broker at a time.
final class RecordAccumulator: @unchecked Sendable {
    private let lock = NIOLock()
    private var queues: [TopicPartition: CircularBuffer<ProducerBatch>] = [:]
    private var stickyPartitions: [String: Int32] = [:]
    private var roundRobin: [String: UInt32] = [:]
    private var nextSerial: UInt64 = 0
    private var nextRecordId: UInt64 = 0
    /// Serials of batches not yet completed, for `flush`.
    private var incomplete: Set<UInt64> = []
    private var flushWaiters: [(upTo: UInt64, continuation: CheckedContinuation<Void, Never>)] = []
    private var flushes = 0
    private var closed = false
    /// Rotates where draining starts so no partition is starved by `max.request.size`.
    private var drainStart = 0

    let batchSize: Int
    let linger: TimeAmount
    let partitioner: PartitionerChoice
    let ignoreKeys: Bool

    init(configuration: ProducerConfiguration) {
        batchSize = configuration.batchSize
        linger = configuration.linger
        partitioner = configuration.partitioner
        ignoreKeys = configuration.partitionerIgnoreKeys
    }

    // MARK: - Appending

    /// The partition for a record without an explicit one.
    func partition(for record: ProducerRecord, partitionCount: Int32) -> Int32 {
        if case .custom(let custom) = partitioner {
            let chosen = custom.partition(topic: record.topic, key: record.key, value: record.value, partitionCount: partitionCount)
            return ((chosen % partitionCount) + partitionCount) % partitionCount
        }
        if let key = record.key, !ignoreKeys {
            return key.withKafkaBytes { Murmur2.partition(forKey: $0, partitionCount: partitionCount) }
        }
        return lock.withLock {
            switch partitioner {
            case .roundRobin:
                let next = roundRobin[record.topic, default: UInt32.random(in: 0..<UInt32(partitionCount))]
                roundRobin[record.topic] = next &+ 1
                return Int32(next % UInt32(partitionCount))
            default:
                if let sticky = stickyPartitions[record.topic], sticky < partitionCount { return sticky }
                let chosen = Int32.random(in: 0..<partitionCount)
                stickyPartitions[record.topic] = chosen
                return chosen
            }
        }
    }

    enum AppendResult {
        /// `usedReservation`: the record opened a new batch, which now holds the reservation (and returns it when
        /// done); otherwise the caller gives its reservation back.
        case appended(ProducerRecordID, usedReservation: Bool)
        /// A new batch is needed: reserve this many bytes of `buffer.memory` and call again with them.
        case needsBatch(bytes: Int)
        case closed
    }

    /// Appends to the partition's open batch, or to a new one made with `reservation` bytes. Returns whether
    /// the sender should look now (a batch filled up).
    func append(
        _ record: ProducerRecord, partition: Int32, timestamp: Int64, recordSize: Int,
        reservation: Int?, waiter: CheckedContinuation<RecordMetadata, any Error>?, now: NIODeadline
    ) -> (AppendResult, wakeSender: Bool) {
        lock.withLock {
            guard !closed else { return (.closed, false) }
            let key = TopicPartition(topic: record.topic, partition: partition)
            var wake = false
            if let last = queues[key]?.last, !last.isFull {
                let id = nextRecordId
                if last.tryAppend(id: id, timestamp: timestamp, key: record.key, value: record.value, headers: record.headers,
                                  recordSize: recordSize, limit: batchSize, waiter: waiter) {
                    nextRecordId += 1
                    if last.sizeInBytes >= batchSize { wake = closeForAppends(last) }
                    return (.appended(ProducerRecordID(rawValue: id), usedReservation: false), wake)
                }
                wake = closeForAppends(last)
            }
            guard let reservation else { return (.needsBatch(bytes: max(batchSize, recordSize + RecordBatchLayout.headerSize)), wake) }
            nextSerial += 1
            let batch = ProducerBatch(serial: nextSerial, topic: record.topic, partition: partition,
                                      reservedBytes: reservation, now: now)
            let id = nextRecordId
            nextRecordId += 1
            _ = batch.tryAppend(id: id, timestamp: timestamp, key: record.key, value: record.value, headers: record.headers,
                                recordSize: recordSize, limit: .max, waiter: waiter)
            queues[key, default: CircularBuffer()].append(batch)
            incomplete.insert(batch.serial)
            if batch.sizeInBytes >= batchSize { _ = closeForAppends(batch) }
            // A new batch: the sender must know, to send it when its linger time is up.
            return (.appended(ProducerRecordID(rawValue: id), usedReservation: true), true)
        }
    }

    /// Closes a batch to appends; the sticky partitioner moves on from its partition (Java: the sticky partition
    /// changes once a batch for it is complete).
    private func closeForAppends(_ batch: ProducerBatch) -> Bool {
        batch.markFull()
        if stickyPartitions[batch.topic] == batch.partition { stickyPartitions[batch.topic] = nil }
        return true
    }

    // MARK: - Draining

    struct Readiness {
        /// Brokers with a batch to send now.
        var nodes: Set<Int32> = []
        /// When the next batch becomes ready (linger or retry backoff), if nothing is ready now.
        var nextCheck: NIODeadline?
        /// Topics with a batch whose partition has no known leader.
        var unknownLeaders: Set<String> = []
    }

    /// Which brokers have batches ready. `memoryExhausted` sends lingering batches at once (to free memory).
    func ready(metadata: ClusterMetadata, memoryExhausted: Bool, now: NIODeadline) -> Readiness {
        lock.withLock {
            var readiness = Readiness()
            let hurry = flushes > 0 || closed || memoryExhausted
            for (key, queue) in queues {
                guard let first = queue.first else { continue }
                guard let leader = metadata.leader(of: key.topic, partition: key.partition) else {
                    readiness.unknownLeaders.insert(key.topic)
                    continue
                }
                let dueAt = first.retryAt ?? (first.createdAt + linger)
                if first.retryAt == nil && (first.isFull || queue.count > 1 || hurry) || dueAt <= now {
                    readiness.nodes.insert(leader)
                } else {
                    readiness.nextCheck = min(readiness.nextCheck ?? dueAt, dueAt)
                }
            }
            return readiness
        }
    }

    /// Takes the ready batches led by `node`, at most one per partition, until `maxRequestSize`; skips
    /// partitions that `canDrain` rules out (ordering and idempotence constraints). Batches leave the queue
    /// closed to appends.
    func drain(node: Int32, metadata: ClusterMetadata, maxRequestSize: Int, now: NIODeadline,
               canDrain: (TopicPartition, ProducerBatch) -> Bool) -> [ProducerBatch] {
        lock.withLock {
            let hurry = flushes > 0 || closed
            let keys = queues.keys.filter { metadata.leader(of: $0.topic, partition: $0.partition) == node }
                .sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
            guard !keys.isEmpty else { return [] }
            drainStart = (drainStart + 1) % keys.count
            var drained: [ProducerBatch] = []
            var size = 0
            for offset in 0..<keys.count {
                let key = keys[(drainStart + offset) % keys.count]
                guard let first = queues[key]?.first else { continue }
                if let retryAt = first.retryAt, retryAt > now { continue }
                let ready = first.isFull || (queues[key]?.count ?? 0) > 1 || hurry || first.retryAt != nil
                    || first.createdAt + linger <= now
                guard ready, canDrain(key, first) else { continue }
                if !drained.isEmpty && size + first.sizeInBytes > maxRequestSize { break }
                _ = closeForAppends(first)
                queues[key]?.removeFirst()
                if queues[key]?.isEmpty == true { queues[key] = nil }
                first.retryAt = nil
                size += first.sizeInBytes
                drained.append(first)
            }
            return drained
        }
    }

    /// Puts a batch back for a retry, ahead of newer batches of its partition: batches of a partition go out
    /// in the order they were created (and so, for an idempotent producer, in sequence order).
    func reenqueue(_ batch: ProducerBatch, retryAt: NIODeadline) {
        lock.withLock { insertInOrder(batch, retryAt: retryAt) }
    }

    private func insertInOrder(_ batch: ProducerBatch, retryAt: NIODeadline) {
        batch.retryAt = retryAt
        let key = TopicPartition(topic: batch.topic, partition: batch.partition)
        var queue = queues[key] ?? CircularBuffer()
        let position = queue.firstIndex {
            $0.serial > batch.serial || ($0.serial == batch.serial && $0.splitIndex > batch.splitIndex)
        } ?? queue.endIndex
        queue.insert(batch, at: position)
        queues[key] = queue
    }

    /// Replaces a batch the broker found too large by pieces of at most about `targetBytes`, queued in its place.
    /// Records keep their ids, timestamps, waiting callers and (idempotent producers) sequence numbers.
    /// Returns the number of pieces.
    func split(_ batch: ProducerBatch, targetBytes: Int) throws -> Int {
        let records = try batch.decodedRecords()
        let group = ProducerBatch.SplitGroup()
        var pieces: [ProducerBatch] = []
        for (index, record) in records.enumerated() {
            let headers = record.headers
            let size = RecordBatchBuilder.encodedSize(keyLength: record.key?.readableBytes, valueLength: record.value?.readableBytes,
                                                      headers: headers, timestampDelta: 0, offsetDelta: 0) + 16
            let waiter = batch.takeWaiter(at: index)
            let id = batch.recordIds[index]
            if let current = pieces.last, current.tryAppend(id: id, timestamp: record.timestamp, key: record.key, value: record.value,
                                                            headers: headers, recordSize: size, limit: targetBytes, waiter: waiter) {
                continue
            }
            let piece = ProducerBatch(serial: batch.serial, topic: batch.topic, partition: batch.partition, reservedBytes: 0,
                                      now: batch.createdAt, capacity: max(targetBytes, size + RecordBatchLayout.headerSize))
            piece.splitGroup = group
            piece.splitIndex = batch.splitIndex * 1024 + pieces.count
            piece.attempts = batch.attempts
            if batch.baseSequence >= 0 {
                piece.producerId = batch.producerId
                piece.producerEpoch = batch.producerEpoch
                piece.baseSequence = batch.baseSequence &+ Int32(index)
            }
            _ = piece.tryAppend(id: id, timestamp: record.timestamp, key: record.key, value: record.value, headers: headers,
                                recordSize: size, limit: .max, waiter: waiter)
            piece.markFull()
            pieces.append(piece)
        }
        group.remaining = pieces.count
        lock.withLock {
            for piece in pieces { insertInOrder(piece, retryAt: .now()) }
        }
        return pieces.count
    }

    /// Batches still queued for a partition (for idempotence bookkeeping).
    func queuedBatches(for key: TopicPartition) -> [ProducerBatch] {
        lock.withLock { Array(queues[key] ?? CircularBuffer()) }
    }

    /// Queued batches whose `delivery.timeout.ms` has passed; they leave the queue.
    func expired(deliveryTimeout: TimeAmount, now: NIODeadline) -> [ProducerBatch] {
        lock.withLock {
            var expired: [ProducerBatch] = []
            for (key, queue) in queues {
                let keep = queue.filter { $0.createdAt + deliveryTimeout > now }
                guard keep.count != queue.count else { continue }
                expired += queue.filter { $0.createdAt + deliveryTimeout <= now }
                queues[key] = keep.isEmpty ? nil : CircularBuffer(keep)
            }
            return expired
        }
    }

    /// Every queued batch, removed (the producer is closing without delivering them).
    func removeAll() -> [ProducerBatch] {
        lock.withLock {
            let all = queues.values.flatMap { Array($0) }
            queues = [:]
            return all
        }
    }

    // MARK: - Completion and flushing

    /// Marks a batch done; wakes `flush` callers whose batches are now all done.
    func completed(_ batch: ProducerBatch) {
        let resumed = lock.withLock { () -> [CheckedContinuation<Void, Never>] in
            if let group = batch.splitGroup {
                group.remaining -= 1
                guard group.remaining <= 0 else { return [] }
            }
            incomplete.remove(batch.serial)
            let oldest = incomplete.min() ?? .max
            let done = flushWaiters.filter { $0.upTo < oldest }
            flushWaiters.removeAll { $0.upTo < oldest }
            return done.map(\.continuation)
        }
        for continuation in resumed { continuation.resume() }
    }

    /// Waits until every batch that exists now is done; meanwhile batches are sent without lingering.
    func flush(wake: () -> Void) async {
        let target: UInt64? = lock.withLock {
            guard let newest = incomplete.max() else { return nil }
            flushes += 1
            return newest
        }
        guard let target else { return }
        wake()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let immediate = lock.withLock { () -> Bool in
                if (incomplete.min() ?? .max) > target { return true }
                flushWaiters.append((target, continuation))
                return false
            }
            if immediate { continuation.resume() }
        }
        lock.withLock { flushes -= 1 }
    }

    var hasIncompleteBatches: Bool { lock.withLock { !incomplete.isEmpty } }

    /// Refuses further appends; queued batches are still sent (or removed by the caller).
    func close() {
        lock.withLock { closed = true }
    }

    var isClosed: Bool { lock.withLock { closed } }
}
