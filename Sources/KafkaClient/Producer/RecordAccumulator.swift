#if canImport(Glibc)
import Glibc
#endif
import KafkaProtocol
import NIOConcurrencyHelpers
import NIOCore

/// Collects records into per-partition batches. An append takes one lock: it finds the topic (a one-entry cache
/// makes a run of records to one topic skip the hash), picks the partition, reserves a new batch's memory when it
/// can without waiting, and writes the record into the batch. The sender drains batches that are ready (full,
/// lingered long enough, flushed, or needed to free memory), one request per broker at a time.
final class RecordAccumulator: @unchecked Sendable {
    // @unchecked: every mutable field is read and written under `lock` only (which is also why the fields an
    // append touches skip dynamic exclusivity checks).
    private let lock = AdaptiveLock()
    @exclusivity(unchecked) private var topics: [String: TopicQueues] = [:]
    /// The topic of the last append: producers mostly send runs of records to one topic.
    /// Unretained: `topics` holds every topic for the accumulator's life.
    @exclusivity(unchecked) private var lastTopic: Unmanaged<TopicQueues>?
    @exclusivity(unchecked) private var nextSerial: UInt64 = 0
    @exclusivity(unchecked) private var nextRecordId: UInt64 = 0
    @exclusivity(unchecked) private var chooser = PartitionChooser()
    /// Serials of batches not yet completed, for `flush`.
    private var incomplete = IncompleteBatches()
    private var flushWaiters: [(upTo: UInt64, continuation: CheckedContinuation<Void, Never>)] = []
    private var flushes = 0
    private var closed = false
    /// Rotates where draining starts so no partition is starved by `max.request.size`.
    private var drainStart = 0

    /// `batch.size`, at most `buffer.memory` and `max.request.size` (``ProducerConfiguration/batchLimit``).
    let batchSize: Int
    /// A partition's first batch takes this much of `buffer.memory` (or `batch.size`, if smaller) and grows from there.
    static let firstBatchBytes = 16 * 1024
    let linger: TimeAmount
    /// Keyless records in turn across the partitions (else sticky).
    let roundRobin: Bool
    let ignoreKeys: Bool
    /// Uncompressed batches refer to large values instead of copying them (see ``ProducerBatch``).
    private let referencingValuesFrom: Int?
    private let memory: MemoryPool

    init(configuration: ProducerConfiguration, memory: MemoryPool) {
        referencingValuesFrom = configuration.compression == .none ? ProducerBatch.valueReferenceThreshold : nil
        batchSize = configuration.batchLimit
        linger = configuration.linger.timeAmount
        roundRobin = if case .roundRobin = configuration.partitioner { true } else { false }
        ignoreKeys = configuration.partitionerIgnoreKeys
        self.memory = memory
    }

    /// One topic's queues, indexed by partition, and its partitioner state.
    private final class TopicQueues {
        let name: String
        /// From the metadata; 0 until known.
        var partitionCount: Int32 = 0
        @exclusivity(unchecked) var queues: [CircularBuffer<ProducerBatch>] = []
        /// By partition: the share of `buffer.memory` a new batch starts with. A partition's first batch starts small;
        /// later ones start at about the size the last one reached, so a busy partition's batches start at
        /// `batch.size` (and get a kept buffer, without growing) while a quiet one's stay small.
        @exclusivity(unchecked) var startBytes: [Int] = []
        /// What a partition's first batch starts with.
        let firstBatchBytes: Int
        @exclusivity(unchecked) var stickyPartition: Int32 = -1
        @exclusivity(unchecked) var roundRobin: UInt32

        init(name: String, firstTurn: UInt32, firstBatchBytes: Int) {
            self.name = name
            roundRobin = firstTurn
            self.firstBatchBytes = firstBatchBytes
        }

        func queue(_ partition: Int32) -> CircularBuffer<ProducerBatch>? {
            Int(partition) < queues.count ? queues[Int(partition)] : nil
        }

        /// The partition's newest batch if it still takes records, unretained (see ``RecordAccumulator/append``).
        @inline(__always)
        func openBatch(_ partition: Int32) -> Unmanaged<ProducerBatch>? {
            guard let last = queues[Int(partition)].last, !last.isFull else { return nil }
            return Unmanaged.passUnretained(last)
        }

        /// Grows `queues` so that `partition` has a slot (retries and explicit partitions may come before the count).
        func ensureSlot(_ partition: Int32) {
            while queues.count <= Int(partition) {
                queues.append(CircularBuffer(initialCapacity: 2))
                startBytes.append(firstBatchBytes)
            }
        }
    }

    // MARK: - Appending

    /// How the partitioner places a record that names no partition, decided outside the lock where it can be.
    enum Placement {
        case explicit(Int32)
        /// `toPositive(murmur2(key))`, taken modulo the partition count under the lock.
        case keyHash(Int32)
        /// Sticky or round robin, per the configuration.
        case keyless
    }

    /// The placement for a record: keys are hashed here, before the lock is taken. A custom partitioner is asked
    /// by the producer (never under this lock) and its answer given as `.explicit`.
    func placement(for record: ProducerRecord) -> Placement {
        if let partition = record.partition { return .explicit(partition) }
        if let key = record.keyBytes, !ignoreKeys {
            return .keyHash(key.withBytes { Murmur2.hash($0) } & 0x7FFF_FFFF)
        }
        return .keyless
    }

    enum AppendResult {
        /// `usedReservation`: the record opened a new batch with the caller's reservation, which the batch now
        /// holds; otherwise the caller gives its reservation back.
        case appended(ProducerRecordID, usedReservation: Bool)
        /// The topic's partition count is not known yet: fetch the metadata and append again.
        case needsMetadata
        /// An explicit partition outside the topic's partitions.
        case invalidPartition(partitionCount: Int32)
        /// A new batch of this many bytes is needed and `buffer.memory` has no room now: reserve them (waiting)
        /// and append again with the reservation.
        case needsMemory(bytes: Int)
        case closed
    }

    /// Appends to the partition's open batch, or to a new one: made with `reservation` bytes when given, else with
    /// memory reserved now if there is room. Wakes the sender when a batch fills up or is created.
    /// What an append tells the sender about (see ``Sender/notice(_:)``).
    enum SenderNews {
        case none
        /// A batch filled up: it can go now.
        case batchFull
        /// A new batch was started: it is due when it has lingered.
        case batchStarted(dueAt: NIODeadline)
    }

    func append(
        _ record: ProducerRecord, placement: Placement, timestamp: Int64, recordSize: Int,
        reservation: Int?, waiter: RecordWaiter?, wake: (SenderNews) -> Void
    ) -> AppendResult {
        var news = SenderNews.none
        let result = lock.withLock { () -> AppendResult in
            guard !closed else { return .closed }
            // The topic's queues and the open batch are used without a retain and release per record: the sender
            // retains them too when it looks, and their reference counts then bounce between the two threads'
            // cores (that pair cost more than the rest of an append of a 100-byte record).
            return queues(of: record.topic)._withUnsafeGuaranteedRef { topic -> AppendResult in
                let count = topic.partitionCount
                guard count > 0 else { return .needsMetadata }
                let partition: Int32
                switch placement {
                case .explicit(let explicit):
                    guard explicit >= 0, explicit < count else { return .invalidPartition(partitionCount: count) }
                    partition = explicit
                case .keyHash(let hash):
                    partition = hash % count
                case .keyless:
                    partition = keylessPartition(topic)
                }
                topic.ensureSlot(partition)
                if let open = topic.openBatch(partition) {
                    // The queue holds the batch; batches leave it only under this lock.
                    let appended = open._withUnsafeGuaranteedRef { last -> Bool in
                        let id = nextRecordId
                        if last.reserveRoom(for: recordSize, limit: batchSize, memory: memory),
                           last.tryAppend(id: id, timestamp: timestamp, key: record.keyBytes,
                                          value: record.valueBytes, headers: record.headers, recordSize: recordSize,
                                          limit: batchSize, waiter: waiter) {
                            nextRecordId &+= 1
                            if last.sizeInBytes >= batchSize {
                                closeForAppends(last, of: topic)
                                news = .batchFull
                            }
                            return true
                        }
                        closeForAppends(last, of: topic)
                        news = .batchFull
                        return false
                    }
                    if appended {
                        return .appended(ProducerRecordID(rawValue: nextRecordId &- 1), usedReservation: false)
                    }
                }
                // A new batch starts with the partition's usual share, or with the least it needs when memory is short.
                let least = max(topic.firstBatchBytes, recordSize + RecordBatchLayout.headerSize)
                let wanted = max(topic.startBytes[Int(partition)], least)
                let reserved: Int
                if let reservation {
                    reserved = reservation
                } else if memory.tryReserve(wanted) {
                    reserved = wanted
                } else if wanted > least, memory.tryReserve(least) {
                    reserved = least
                } else {
                    return .needsMemory(bytes: least)
                }
                nextSerial &+= 1
                let now = NIODeadline.now()
                let batch = ProducerBatch(serial: nextSerial, topic: record.topic, partition: partition,
                                          reservedBytes: reserved, now: now,
                                          buffer: reserved == memory.pooledBufferSize ? memory.takeBuffer() : nil,
                                          referencingValuesFrom: referencingValuesFrom)
                let id = nextRecordId
                nextRecordId &+= 1
                _ = batch.tryAppend(id: id, timestamp: timestamp, key: record.keyBytes, value: record.valueBytes,
                                    headers: record.headers, recordSize: recordSize, limit: .max, waiter: waiter)
                topic.queues[Int(partition)].append(batch)
                incomplete.insert(batch.serial)
                if batch.sizeInBytes >= batchSize {
                    closeForAppends(batch, of: topic)
                    news = .batchFull
                } else if case .none = news {
                    // A new batch: the sender must know, to send it when its linger time is up.
                    news = .batchStarted(dueAt: now + linger)
                }
                return .appended(ProducerRecordID(rawValue: id), usedReservation: reservation != nil)
            }
        }
        if case .none = news {} else { wake(news) }
        return result
    }

    /// A topic's queues, unretained (`topics` keeps every topic), made the first time. Under the lock.
    @inline(__always)
    private func queues(of name: String) -> Unmanaged<TopicQueues> {
        if let last = lastTopic, last._withUnsafeGuaranteedRef({ $0.name == name }) { return last }
        let topic: TopicQueues
        if let known = topics[name] {
            topic = known
        } else {
            topic = newTopic(name)
            topics[name] = topic
        }
        let unretained = Unmanaged.passUnretained(topic)
        lastTopic = unretained
        return unretained
    }

    /// A topic's queues the first time the accumulator sees it; round robin starts at a random partition. Under the lock.
    private func newTopic(_ name: String) -> TopicQueues {
        TopicQueues(name: name, firstTurn: UInt32(truncatingIfNeeded: chooser.next()),
                    firstBatchBytes: min(batchSize, Self.firstBatchBytes))
    }

    /// A keyless record's partition: sticky (until the partition's batch is complete) or round robin.
    private func keylessPartition(_ topic: TopicQueues) -> Int32 {
        let count = topic.partitionCount
        if roundRobin {
            let next = topic.roundRobin
            topic.roundRobin = next &+ 1
            return Int32(next % UInt32(count))
        }
        if topic.stickyPartition >= 0, topic.stickyPartition < count { return topic.stickyPartition }
        topic.stickyPartition = chooser.partition(below: count)
        return topic.stickyPartition
    }

    /// The partition count the accumulator places records by, or 0 when it is not known.
    func partitionCount(of topic: String) -> Int32 {
        lock.withLock { topics[topic]?.partitionCount ?? 0 }
    }

    /// Takes the partition counts of topics in the metadata (they only grow).
    func updatePartitionCounts(from metadata: ClusterMetadata) {
        lock.withLock {
            for (name, known) in metadata.topics where known.error == .none && !known.partitions.isEmpty {
                let topic = topics[name] ?? newTopic(name)
                topics[name] = topic
                topic.partitionCount = max(topic.partitionCount, Int32(known.partitions.count))
            }
        }
    }

    /// Closes a batch to appends; the sticky partitioner moves on from its partition (Java: the sticky partition
    /// changes once a batch for it is complete).
    private func closeForAppends(_ batch: ProducerBatch, of topic: TopicQueues) {
        batch.markFull()
        if topic.stickyPartition == batch.partition { topic.stickyPartition = -1 }
        // A quarter more than this batch reached: the next one, about as large, then neither grows its share nor
        // its arrays of record ids (sized from its share when it starts).
        let reached = max(batch.sizeInBytes, topic.firstBatchBytes)
        topic.startBytes[Int(batch.partition)] = reached >= batchSize / 2 ? batchSize : reached + reached / 4
    }

    // MARK: - Draining

    struct Readiness {
        /// Brokers with a batch to send now.
        var nodes: Set<Int32> = []
        /// Queued batches whose `delivery.timeout.ms` has passed; they have left the queue.
        var expired: [ProducerBatch] = []
        /// When the next batch becomes ready (linger or retry backoff), if nothing is ready now.
        var nextCheck: NIODeadline?
        /// Topics with a batch whose partition has no known leader.
        var unknownLeaders: Set<String> = []
    }

    /// Which brokers have batches ready, and which batches have waited past `deliveryTimeout` (they leave the
    /// queue), in one look under the lock. `memoryExhausted` sends lingering batches at once (to free memory).
    func ready(metadata: ClusterMetadata, memoryExhausted: Bool, deliveryTimeout: TimeAmount, now: NIODeadline) -> Readiness {
        lock.withLock {
            var readiness = Readiness()
            let hurry = flushes > 0 || closed || memoryExhausted
            for topic in topics.values {
                for index in topic.queues.indices {
                    // Batches of a partition are queued oldest first (retries go back in creation order).
                    while let first = topic.queues[index].first, first.createdAt + deliveryTimeout <= now {
                        readiness.expired.append(topic.queues[index].removeFirst())
                    }
                    guard let first = topic.queues[index].first else { continue }
                    guard let leader = metadata.leader(of: topic.name, partition: Int32(index)) else {
                        readiness.unknownLeaders.insert(topic.name)
                        continue
                    }
                    let dueAt = first.retryAt ?? (first.createdAt + linger)
                    if first.retryAt == nil && (first.isFull || topic.queues[index].count > 1 || hurry) || dueAt <= now {
                        readiness.nodes.insert(leader)
                    } else {
                        readiness.nextCheck = min(readiness.nextCheck ?? dueAt, dueAt)
                    }
                }
            }
            return readiness
        }
    }

    /// What one drain took for a request, and whether another request could be filled at once.
    struct Drained {
        var batches: [ProducerBatch] = []
        /// Whether a partition led by the node still has a batch ready (left for the next request because the
        /// request was full, or queued behind the one taken); when false, draining again now finds nothing.
        var moreReady = false
    }

    /// Takes the ready batches led by `node`, at most one per partition, until `maxRequestSize`; skips
    /// partitions that `canDrain` rules out (ordering and idempotence constraints). Batches leave the queue
    /// closed to appends.
    func drain(node: Int32, metadata: ClusterMetadata, maxRequestSize: Int, now: NIODeadline,
               canDrain: (TopicPartition, ProducerBatch) -> Bool) -> Drained {
        lock.withLock {
            let hurry = flushes > 0 || closed
            var led: [(topic: TopicQueues, partition: Int32)] = []
            for topic in topics.values.sorted(by: { $0.name < $1.name }) {
                for (index, queue) in topic.queues.enumerated() where !queue.isEmpty {
                    if metadata.leader(of: topic.name, partition: Int32(index)) == node { led.append((topic, Int32(index))) }
                }
            }
            guard !led.isEmpty else { return Drained() }
            drainStart = (drainStart + 1) % led.count
            var drained = Drained()
            var size = 0
            func isReady(_ batch: ProducerBatch, queued: Int) -> Bool {
                if let retryAt = batch.retryAt { return retryAt <= now }
                return batch.isFull || queued > 1 || hurry || batch.createdAt + linger <= now
            }
            for step in 0..<led.count {
                let (topic, partition) = led[(drainStart + step) % led.count]
                let index = Int(partition)
                guard let first = topic.queues[index].first, isReady(first, queued: topic.queues[index].count),
                      canDrain(TopicPartition(topic: topic.name, partition: partition), first) else { continue }
                if !drained.batches.isEmpty && size + first.sizeInBytes > maxRequestSize {
                    drained.moreReady = true
                    break
                }
                closeForAppends(first, of: topic)
                topic.queues[index].removeFirst()
                first.retryAt = nil
                size += first.sizeInBytes
                drained.batches.append(first)
                if let next = topic.queues[index].first, isReady(next, queued: topic.queues[index].count) { drained.moreReady = true }
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
        let topic = topics[batch.topic] ?? newTopic(batch.topic)
        topics[batch.topic] = topic
        topic.ensureSlot(batch.partition)
        let index = Int(batch.partition)
        let position = topic.queues[index].firstIndex {
            $0.serial > batch.serial || ($0.serial == batch.serial && $0.splitIndex > batch.splitIndex)
        } ?? topic.queues[index].endIndex
        topic.queues[index].insert(batch, at: position)
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
            let key = record.key.map(RecordBytes.buffer)
            let value = record.value.map(RecordBytes.buffer)
            if let current = pieces.last, current.tryAppend(id: id, timestamp: record.timestamp, key: key, value: value,
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
            _ = piece.tryAppend(id: id, timestamp: record.timestamp, key: key, value: value, headers: headers,
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
        lock.withLock { topics[key.topic]?.queue(key.partition).map(Array.init) ?? [] }
    }

    /// Every queued batch, removed (the producer is closing without delivering them).
    func removeAll() -> [ProducerBatch] {
        lock.withLock {
            var all: [ProducerBatch] = []
            for topic in topics.values {
                for index in topic.queues.indices {
                    all.append(contentsOf: topic.queues[index])
                    topic.queues[index].removeAll()
                }
            }
            return all
        }
    }

    // MARK: - Completion and flushing

    /// Marks batches done (those of one response, together); wakes `flush` callers whose batches are now all done.
    func completed(_ batches: [ProducerBatch]) {
        let resumed = lock.withLock { () -> [CheckedContinuation<Void, Never>] in
            for batch in batches {
                if let group = batch.splitGroup {
                    group.remaining -= 1
                    guard group.remaining <= 0 else { continue }
                }
                incomplete.remove(batch.serial)
            }
            guard !flushWaiters.isEmpty else { return [] }
            let oldest = incomplete.oldest() ?? .max
            let done = flushWaiters.filter { $0.upTo < oldest }
            flushWaiters.removeAll { $0.upTo < oldest }
            return done.map(\.continuation)
        }
        for continuation in resumed { continuation.resume() }
    }

    /// Waits until every batch that exists now is done; meanwhile batches are sent without lingering.
    func flush(wake: () -> Void) async {
        let target: UInt64? = lock.withLock {
            // The newest batch so far: every batch that exists now is at or below it.
            guard !incomplete.isEmpty else { return nil }
            flushes += 1
            return nextSerial
        }
        guard let target else { return }
        wake()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let immediate = lock.withLock { () -> Bool in
                if (incomplete.oldest() ?? .max) > target { return true }
                flushWaiters.append((target, continuation))
                return false
            }
            if immediate { continuation.resume() }
        }
        lock.withLock { flushes -= 1 }
    }

    var hasIncompleteBatches: Bool { lock.withLock { !incomplete.isEmpty } }

    /// Failures of enqueued records that have no delivery report to go to, since the last flush.
    private var unobservedFailures: (count: Int, first: KafkaProducerError)?

    func noteUnobservedFailures(_ count: Int, _ error: KafkaProducerError) {
        lock.withLock {
            if let known = unobservedFailures {
                unobservedFailures = (known.count + count, known.first)
            } else {
                unobservedFailures = (count, error)
            }
        }
    }

    /// The failures noted since the last call, cleared.
    func takeUnobservedFailures() -> (count: Int, first: KafkaProducerError)? {
        lock.withLock {
            defer { unobservedFailures = nil }
            return unobservedFailures
        }
    }

    /// Refuses further appends; queued batches are still sent (or removed by the caller).
    func close() {
        lock.withLock { closed = true }
    }

    var isClosed: Bool { lock.withLock { closed } }
}
