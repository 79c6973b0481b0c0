#if canImport(Glibc)
import Glibc
#endif
import KafkaProtocol
import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// A partition's log on disk: a directory `<topic>-<partition>/` of segments, with the offsets that bound it.
///
/// Every public method is thread-safe (one lock per partition; I/O on the calling thread, which is fast for
/// appends to the page cache and header-sized reads). Record bytes are never re-encoded: a produced batch is
/// written as it came, after the broker's 16-byte prefix (base offset, length, leader epoch), which the CRC does
/// not cover.
final class PartitionLog: @unchecked Sendable {
    let topic: String
    let partition: Int32
    let directory: String

    private let lock = NIOLock()
    private var segments: [LogSegment]
    private var config: LogConfig
    private var logStartOffset: Int64
    private var logEndOffset: Int64
    /// The partition's leader epoch as this replica knows it (the leader stamps its batches with it).
    private var leaderEpoch: Int32
    /// Offsets below it are on every in-sync replica: what consumers may read.
    private var highWatermark: Int64
    private var epochCache: LeaderEpochCache
    /// Leader, follower, or neither; with the leader's view of its followers.
    private var role: ReplicaRole
    private var producers = ProducerStateTable()
    private var unflushedRecords: Int64 = 0
    private var lastFlushTime: Int64
    private var closed = false

    private let waiters = NIOLockedValueBox<[UInt64: @Sendable () -> Void]>([:])
    /// acks=all produce requests waiting for the high watermark (leader only).
    private var ackWaiters: [AckWaiter] = []
    /// A follower in a new epoch must check for divergence (OffsetForLeaderEpoch) before fetching.
    private var truncationPending = false

    /// What opening the log found damaged on disk and cut away (empty when it was intact).
    let recoveries: [LogRecovery]

    private static let logStartFile = "log-start-offset"

    // MARK: - Opening

    /// Opens the partition in `directory`, creating it if needed. Every batch of every segment is checked
    /// (framing, offsets, CRC): the log ends at the first one that is not whole and valid, whose segment is cut
    /// there while later segments are deleted (``LogRecovery``, listed in ``recoveries``). The last segment's
    /// indexes are rebuilt; earlier segments keep theirs when those are sane and get them rebuilt otherwise.
    ///
    /// A lone broker's logs (and its offsets log) start as leaders with no followers; a cluster member's start
    /// `offline` (`leads` false) until the cluster tells them their role.
    init(directory: String, topic: String, partition: Int32, config: LogConfig, leaderEpoch: Int32, now: Int64,
         leads: Bool = true) throws {
        role = leads ? .leader(LeaderState.soleReplica) : .offline
        self.topic = topic
        self.partition = partition
        self.directory = directory
        self.config = config
        self.leaderEpoch = leaderEpoch
        lastFlushTime = now
        try Self.makeDirectory(directory)

        let baseOffsets = try Self.segmentBaseOffsets(in: directory)
        var opened: [LogSegment] = []
        var recovery: LogRecovery?
        for (index, baseOffset) in baseOffsets.enumerated() {
            let segment = try LogSegment(directory: directory, baseOffset: baseOffset, config: config, create: false)
            let damage: LogSegment.Damage?
            let isLast = index == baseOffsets.count - 1
            if try isLast || segment.firstDamage(maxBatchBytes: config.maxMessageBytes) != nil {
                damage = try segment.recover(maxBatchBytes: config.maxMessageBytes)
            } else {
                try segment.load(maxBatchBytes: config.maxMessageBytes)
                damage = nil
            }
            opened.append(segment)
            if let damage {
                // The log ends here: what follows (in this segment and in later ones) came after the bad batch.
                let later = baseOffsets[(index + 1)...]
                let deletedBytes = later.reduce(0) { $0 + Self.deleteSegmentFiles(baseOffset: $1, in: directory) }
                recovery = LogRecovery(topic: topic, partition: partition, segment: LogSegment.fileName(baseOffset, "log"),
                                       position: damage.position, logEndOffset: segment.nextOffset,
                                       bytesTruncated: damage.bytesToEnd, segmentsDeleted: later.count,
                                       segmentBytesDeleted: deletedBytes, problem: damage.problem)
                break
            }
        }
        recoveries = recovery.map { [$0] } ?? []
        let checkpointed = Self.readLogStartOffset(directory) ?? 0
        if opened.isEmpty {
            opened.append(try LogSegment(directory: directory, baseOffset: checkpointed, config: config, create: true))
        }
        segments = opened
        logStartOffset = max(checkpointed, opened[0].baseOffset)
        logEndOffset = max(opened[opened.count - 1].nextOffset, logStartOffset)
        highWatermark = logEndOffset
        epochCache = LeaderEpochCache(directory: directory)
        epochCache.truncate(from: logEndOffset)
        if let latest = epochCache.latestEpoch, latest > leaderEpoch { self.leaderEpoch = latest }
        try rebuildProducerState()
    }

    /// Removes a segment's files without opening them; returns the bytes its `.log` held.
    private static func deleteSegmentFiles(baseOffset: Int64, in directory: String) -> Int {
        let log = "\(directory)/\(LogSegment.fileName(baseOffset, "log"))"
        var status = stat()
        let size = stat(log, &status) == 0 ? Int(status.st_size) : 0
        for suffix in ["log", "index", "timeindex"] { unlink("\(directory)/\(LogSegment.fileName(baseOffset, suffix))") }
        return size
    }

    private static func makeDirectory(_ path: String) throws {
        if mkdir(path, 0o755) != 0 && currentErrno() != EEXIST { throw StorageError("mkdir", path: path) }
    }

    /// Base offsets of the `.log` files in `directory`, ascending; index files without a log are removed.
    static func segmentBaseOffsets(in directory: String) throws -> [Int64] {
        var logs: [Int64] = []
        var indexes: [(Int64, String)] = []
        for name in try listDirectory(directory) {
            let parts = name.split(separator: ".", maxSplits: 1)
            guard parts.count == 2, parts[0].count == 20, let offset = Int64(parts[0]) else { continue }
            switch parts[1] {
            case "log": logs.append(offset)
            case "index", "timeindex": indexes.append((offset, name))
            default: continue
            }
        }
        let known = Set(logs)
        for (offset, name) in indexes where !known.contains(offset) { unlink("\(directory)/\(name)") }
        return logs.sorted()
    }

    /// Rebuilds idempotent-producer state from the last segment's batch headers (the mock keeps no snapshots;
    /// producers seen only in older segments start over, which clients handle as an unknown producer).
    private func rebuildProducerState() throws {
        guard let last = segments.last else { return }
        try last.forEachBatch(from: 0, to: last.size) { header, _ in
            if header.producerId >= 0, header.baseSequence >= 0 {
                producers.record(producerId: header.producerId, epoch: header.producerEpoch, batch: .init(
                    firstSequence: header.baseSequence,
                    lastSequence: header.baseSequence &+ header.lastOffsetDelta,
                    firstOffset: header.baseOffset, lastOffset: header.lastOffset, timestamp: header.maxTimestamp
                ))
            }
            return true
        }
    }

    // MARK: - Offsets

    struct Offsets: Sendable, Hashable {
        var logStartOffset: Int64
        /// The smallest log end offset among the in-sync replicas (with a single replica, the log end offset).
        var highWatermark: Int64
        /// No transactions are open in the mock, so the last stable offset is the high watermark.
        var lastStableOffset: Int64
        var logEndOffset: Int64
    }

    var offsets: Offsets {
        lock.withLock { currentOffsets }
    }

    private var currentOffsets: Offsets {
        Offsets(logStartOffset: logStartOffset, highWatermark: highWatermark, lastStableOffset: highWatermark,
                logEndOffset: logEndOffset)
    }

    var currentLeaderEpoch: Int32 { lock.withLock { leaderEpoch } }

    var currentConfig: LogConfig { lock.withLock { config } }

    func updateConfig(_ newConfig: LogConfig) {
        lock.withLock { config = newConfig }
    }

    // MARK: - Leadership

    /// What the replica is doing now.
    var currentRole: ReplicaRole { lock.withLock { role } }

    /// True while this replica leads the partition.
    var isLeader: Bool { lock.withLock { if case .leader = role { true } else { false } } }

    /// Takes (or keeps) leadership in `epoch`: a new epoch starts at the log end offset in the epoch cache, and
    /// the followers start as caught up now (the ISR members) or unknown. In the same epoch, the ISR is replaced
    /// (the controller removed a broker that went away).
    func becomeLeader(epoch: Int32, replicas: [Int32], isr: [Int32], localId: Int32, now: Int64) {
        let woken: [AckWaiter] = lock.withLock {
            var state: LeaderState
            if case .leader(let current) = role, epoch == leaderEpoch, current.localId == localId {
                state = current
                state.replicas = replicas
                state.isr = isr
            } else {
                state = LeaderState(localId: localId, replicas: replicas, isr: isr, followers: [:])
            }
            for replica in replicas where replica != localId && state.followers[replica] == nil {
                state.followers[replica] = LeaderState.Follower(lastCaughtUpTime: isr.contains(replica) ? now : -1)
            }
            for replica in state.followers.keys where !replicas.contains(replica) { state.followers[replica] = nil }
            if epoch > leaderEpoch || epochCache.latestEpoch == nil {
                leaderEpoch = max(epoch, leaderEpoch)
                epochCache.assign(epoch: leaderEpoch, startOffset: logEndOffset)
            }
            role = .leader(state)
            return advanceHighWatermark()
        }
        complete(woken)
    }

    /// Follows `leaderId` in `epoch` (fetching is the replica fetcher's business; a new leader or epoch first
    /// has it find, by OffsetForLeaderEpoch, where this log and the leader's diverge). Produce requests waiting
    /// for their acks get NOT_LEADER_OR_FOLLOWER.
    func becomeFollower(epoch: Int32, leaderId: Int32) {
        let failed: [AckWaiter] = lock.withLock {
            if case .follower(let current) = role, current == leaderId, epoch == leaderEpoch {
                return []
            }
            leaderEpoch = max(epoch, leaderEpoch)
            role = .follower(leaderId: leaderId)
            truncationPending = true
            defer { ackWaiters.removeAll() }
            return ackWaiters
        }
        for waiter in failed { waiter.done(.notLeaderOrFollower) }
        notifyWaiters()
    }

    /// Neither leads nor follows (not a replica, or no leader).
    func becomeOffline(epoch: Int32) {
        let failed: [AckWaiter] = lock.withLock {
            leaderEpoch = max(epoch, leaderEpoch)
            role = .offline
            defer { ackWaiters.removeAll() }
            return ackWaiters
        }
        for waiter in failed { waiter.done(.notLeaderOrFollower) }
        notifyWaiters()
    }

    // MARK: - Replication (leader side)

    /// A produce request waiting for the in-sync replicas (acks=all): done once the high watermark passes
    /// `lastOffset`, with NONE, or NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR is then below
    /// `min.insync.replicas`; NOT_LEADER_OR_FOLLOWER when the leadership goes first.
    struct AckWaiter: Sendable {
        let lastOffset: Int64
        let done: @Sendable (KafkaErrorCode) -> Void
    }

    /// Calls `done` once the high watermark passes `lastOffset` (at once, on this thread, if it already has).
    func whenReplicated(through lastOffset: Int64, _ done: @escaping @Sendable (KafkaErrorCode) -> Void) {
        let immediate: KafkaErrorCode? = lock.withLock {
            guard case .leader(let leader) = role else { return .notLeaderOrFollower }
            if highWatermark > lastOffset {
                return max(leader.isr.count, 1) < config.minInsyncReplicas ? .notEnoughReplicasAfterAppend : KafkaErrorCode.none
            }
            ackWaiters.append(AckWaiter(lastOffset: lastOffset, done: done))
            return nil
        }
        if let immediate { done(immediate) }
    }

    /// The high watermark: the smallest log end offset among the in-sync replicas (a follower not heard from yet
    /// holds it where it is). It never moves back on a leader. Returns the waiters it satisfied, to be completed
    /// outside the lock. Call with the lock held.
    private func advanceHighWatermark() -> [AckWaiter] {
        guard case .leader(let leader) = role else { return [] }
        var candidate = logEndOffset
        for replica in leader.isr where replica != leader.localId {
            let end = leader.followers[replica]?.logEndOffset ?? -1
            candidate = min(candidate, end < 0 ? highWatermark : end)
        }
        guard candidate > highWatermark else { return [] }
        highWatermark = candidate
        let ready = ackWaiters.filter { $0.lastOffset < candidate }
        if !ready.isEmpty { ackWaiters.removeAll { $0.lastOffset < candidate } }
        return ready
    }

    /// Completes satisfied waiters (outside the lock) and wakes long-polling fetches.
    private func complete(_ woken: [AckWaiter]) {
        guard !woken.isEmpty else { return }
        let code: KafkaErrorCode = lock.withLock {
            guard case .leader(let leader) = role else { return .notLeaderOrFollower }
            return max(leader.isr.count, 1) < config.minInsyncReplicas ? .notEnoughReplicasAfterAppend : .none
        }
        for waiter in woken { waiter.done(code) }
        notifyWaiters()
    }

    /// A follower's fetch (replica id `replicaId`, from its log end offset `fetchOffset`): records its progress,
    /// adds it to the ISR once it has caught up to the high watermark, moves the high watermark, and finds the
    /// bytes to send up to the log end offset. Returns the new ISR when it changed.
    func readForFollower(replicaId: Int32, fetchOffset: Int64, maxBytes: Int, minOneBatch: Bool, now: Int64)
        throws(ReadError) -> (slice: Slice?, offsets: Offsets, newIsr: [Int32]?)
    {
        var woken: [AckWaiter] = []
        let result = try lock.locked { () throws(ReadError) -> (Slice?, Offsets, [Int32]?) in
            guard !closed else { throw .storage("\(topic)-\(partition) is closed") }
            guard case .leader(var leader) = role, leader.replicas.contains(replicaId) else { throw .notLeader }
            guard fetchOffset >= logStartOffset, fetchOffset <= logEndOffset else { throw .offsetOutOfRange }
            var follower = leader.followers[replicaId] ?? LeaderState.Follower(lastCaughtUpTime: -1)
            if fetchOffset >= logEndOffset {
                follower.lastCaughtUpTime = now
            } else if follower.lastFetchTime >= 0, fetchOffset >= follower.leaderEndOffsetAtLastFetch {
                follower.lastCaughtUpTime = max(follower.lastCaughtUpTime, follower.lastFetchTime)
            }
            follower.logEndOffset = fetchOffset
            follower.lastFetchTime = now
            follower.leaderEndOffsetAtLastFetch = logEndOffset
            leader.followers[replicaId] = follower
            var newIsr: [Int32]?
            if !leader.isr.contains(replicaId), fetchOffset >= highWatermark,
               fetchOffset >= (epochCache.entries.last { $0.epoch == leaderEpoch }?.startOffset ?? 0) {
                leader.isr = leader.replicas.filter { leader.isr.contains($0) || $0 == replicaId }
                newIsr = leader.isr
            }
            role = .leader(leader)
            woken = advanceHighWatermark()
            let offsets = currentOffsets
            guard fetchOffset < logEndOffset, maxBytes > 0 || minOneBatch else { return (nil, offsets, newIsr) }
            return (try slice(from: fetchOffset, maxBytes: maxBytes, minOneBatch: minOneBatch, limit: logEndOffset),
                    offsets, newIsr)
        }
        complete(woken)
        return (result.0, result.1, result.2)
    }

    /// Drops from the ISR the followers that have not caught up for `lagMax` milliseconds
    /// (`replica.lag.time.max.ms`); returns the new ISR when it changed.
    func shrinkIsr(now: Int64, lagMax: Int64) -> [Int32]? {
        var woken: [AckWaiter] = []
        let changed: [Int32]? = lock.withLock {
            guard case .leader(var leader) = role else { return nil }
            let lagging = leader.isr.filter { replica in
                guard replica != leader.localId, let follower = leader.followers[replica] else { return false }
                return now - follower.lastCaughtUpTime > lagMax
            }
            guard !lagging.isEmpty else { return nil }
            leader.isr.removeAll { lagging.contains($0) }
            role = .leader(leader)
            woken = advanceHighWatermark()
            return leader.isr
        }
        complete(woken)
        return changed
    }

    // MARK: - Replication (follower side)

    /// Appends batches fetched from the leader exactly as they are (offsets, leader epochs and all), so the
    /// follower's segments hold the leader's bytes; records their producers and epochs; and takes the leader's
    /// high watermark (as far as this log reaches) and log start offset. Batches already here are skipped; a gap
    /// or a partial batch ends the append. Returns the number of batches written.
    @discardableResult
    func appendAsFollower(_ records: ByteBuffer, leaderHighWatermark: Int64, leaderLogStartOffset: Int64, now: Int64)
        throws(AppendError) -> Int
    {
        var written = 0
        try lock.locked { () throws(AppendError) in
            guard !closed else { throw .closed }
            guard case .follower = role else { throw .notLeader }
            var position = records.readerIndex
            let end = records.writerIndex
            // Batches the leader sent back to back are written back to back, in one write per segment.
            var staged: [BatchHeader] = []
            var stagedStart = position
            var stagedBytes = 0
            func writeStaged() throws {
                guard let last = staged.last else { return }
                try segments[segments.count - 1].append(staged, parts: [records.getSlice(at: stagedStart, length: stagedBytes)!],
                                                        now: now)
                for header in staged {
                    if header.producerId >= 0, header.baseSequence >= 0 {
                        producers.record(producerId: header.producerId, epoch: header.producerEpoch, batch: .init(
                            firstSequence: header.baseSequence, lastSequence: header.baseSequence &+ header.lastOffsetDelta,
                            firstOffset: header.baseOffset, lastOffset: header.lastOffset, timestamp: header.maxTimestamp))
                    }
                    if header.partitionLeaderEpoch > (epochCache.latestEpoch ?? -1) {
                        epochCache.assign(epoch: header.partitionLeaderEpoch, startOffset: header.baseOffset)
                    }
                }
                logEndOffset = last.nextOffset
                written += staged.count
                let recordCount = staged.reduce(Int64(0)) { $0 + Int64($1.recordCount) }
                staged = []
                stagedBytes = 0
                try flushIfDue(adding: recordCount, now: now)
            }
            do {
                while let header = BatchHeader(records, at: position), position + header.size <= end {
                    defer { position += header.size }
                    let nextOffset = staged.last?.nextOffset ?? logEndOffset
                    if header.lastOffset < nextOffset {
                        try writeStaged() // what follows is not next to what is staged
                        continue
                    }
                    guard header.baseOffset == nextOffset else { break }
                    if needsRoll(incomingSize: header.size, lastOffsetDelta: header.lastOffsetDelta, now: now,
                                 stagedBatches: staged.count, stagedBytes: stagedBytes, stagedSince: staged.isEmpty ? nil : now,
                                 nextOffset: nextOffset) {
                        try writeStaged()
                        if needsRoll(incomingSize: header.size, lastOffsetDelta: header.lastOffsetDelta, now: now,
                                     stagedBatches: 0, stagedBytes: 0, stagedSince: nil, nextOffset: logEndOffset) {
                            try roll()
                        }
                    }
                    if staged.isEmpty { stagedStart = position }
                    staged.append(header)
                    stagedBytes += header.size
                }
                try writeStaged()
            } catch let error as StorageError {
                throw .storage(error.description)
            } catch {
                throw .storage("\(error)")
            }
            highWatermark = max(highWatermark, min(leaderHighWatermark, logEndOffset))
            if leaderLogStartOffset > logStartOffset, leaderLogStartOffset <= logEndOffset {
                logStartOffset = leaderLogStartOffset
                epochCache.truncate(before: logStartOffset)
                removeSegmentsBelowStart()
                writeLogStartOffset()
            }
        }
        if written > 0 { notifyWaiters() }
        return written
    }

    /// What a replica fetcher needs of a partition this broker follows: nil unless it follows `leaderId`.
    struct FollowerFetchState: Sendable {
        var leaderEpoch: Int32
        var logEndOffset: Int64
        var latestEpoch: Int32
        var needsTruncation: Bool
    }

    func followerFetchState(leaderId: Int32) -> FollowerFetchState? {
        lock.withLock {
            guard !closed, case .follower(let leader) = role, leader == leaderId else { return nil }
            return FollowerFetchState(leaderEpoch: leaderEpoch, logEndOffset: logEndOffset,
                                      latestEpoch: epochCache.latestEpoch ?? -1, needsTruncation: truncationPending)
        }
    }

    /// The divergence check for `epoch` is done (or must be done again, with `pending`).
    func setTruncationPending(_ pending: Bool, epoch: Int32) {
        lock.withLock { if epoch == leaderEpoch { truncationPending = pending } }
    }

    /// The latest leader epoch in this log's epoch cache (-1 when none).
    var latestEpoch: Int32 { lock.withLock { epochCache.latestEpoch ?? -1 } }

    /// Cuts the log at `offset` (a batch boundary; a batch that straddles it goes too): what a returning replica
    /// does when the leader's log diverged from it. Rebuilds the indexes of the cut segment, the producer state
    /// and the epoch cache. A cut at or below the log start empties the log, which then starts at `offset`.
    func truncate(to offset: Int64) throws {
        try lock.withLock {
            guard offset < logEndOffset else { return }
            if offset <= logStartOffset {
                for segment in segments { segment.delete() }
                segments = [try LogSegment(directory: directory, baseOffset: offset, config: config, create: true)]
                logStartOffset = offset
                writeLogStartOffset()
            } else {
                while segments.count > 1, segments[segments.count - 1].baseOffset >= offset {
                    segments.removeLast().delete()
                }
                let segment = segments[segments.count - 1]
                if let cut = try segment.locate(offset) {
                    try segment.log.truncate(to: cut.position)
                    try segment.recover(maxBatchBytes: Int.max / 4)
                }
            }
            logEndOffset = max(segments[segments.count - 1].nextOffset, logStartOffset)
            highWatermark = min(highWatermark, logEndOffset)
            epochCache.truncate(from: logEndOffset)
            producers = ProducerStateTable()
            try rebuildProducerState()
        }
        notifyWaiters()
    }

    // MARK: - Appending

    enum AppendError: Error, Equatable {
        case messageTooLarge
        case outOfOrderSequence
        case invalidProducerEpoch
        case storage(String)
        case closed
        case notLeader
        case notEnoughReplicas

        var code: KafkaErrorCode {
            switch self {
            case .notLeader: .notLeaderOrFollower
            case .notEnoughReplicas: .notEnoughReplicas
            case .messageTooLarge: .messageTooLarge
            case .outOfOrderSequence: .outOfOrderSequenceNumber
            case .invalidProducerEpoch: .invalidProducerEpoch
            case .storage: .kafkaStorageError
            case .closed: .notLeaderOrFollower
            }
        }
    }

    struct AppendResult: Sendable, Hashable {
        var baseOffset: Int64
        /// The broker's timestamp for `LogAppendTime` topics, -1 otherwise.
        var logAppendTime: Int64
        var logStartOffset: Int64
        /// True when the batch was a retry of one already written.
        var duplicate: Bool
        /// The batch's last offset, and the high watermark right after the append: acks=all waits while the
        /// high watermark is not past the last offset.
        var lastOffset: Int64 = -1
        var highWatermark: Int64 = -1
    }

    /// A validated batch to append, with the acks its request asked for and when the request came.
    struct Append {
        var batch: RecordBatch
        var requiredAcks: Int16 = 1
        var now: Int64
    }

    /// Appends one validated batch, assigning it the next offsets. Only a leader appends; with `requiredAcks` -1
    /// (acks=all) it first checks that the ISR has `min.insync.replicas` members.
    func append(_ batch: RecordBatch, now: Int64, requiredAcks: Int16 = 1) throws(AppendError) -> AppendResult {
        try append([Append(batch: batch, requiredAcks: requiredAcks, now: now)])[0].get()
    }

    /// Appends validated batches in order, each checked as ``append(_:now:requiredAcks:)`` checks one, with one
    /// `pwritev` for all that go into the same segment: the page cache charges a write of 10 KB about three times
    /// per byte what it charges one of a megabyte, so a client pipelining produce requests of small batches costs
    /// the broker less when the requests that arrive together are written together. The log's offsets, producer
    /// state and leader epochs move only once the bytes are written: a failed write fails the batches it carried
    /// and leaves the log as it was.
    func append(_ appends: [Append]) -> [Result<AppendResult, AppendError>] {
        var wrote = false
        let results = lock.withLock { () -> [Result<AppendResult, AppendError>] in
            var results = [Result<AppendResult, AppendError>](repeating: .failure(.closed), count: appends.count)
            var staged = StagedWrite(nextOffset: logEndOffset)
            for (index, append) in appends.enumerated() {
                var staging = stage(append, at: index, into: &staged)
                if case .rollFirst = staging {
                    // The batch starts a new segment: what is staged goes into the current one first.
                    wrote = write(&staged, into: &results) || wrote
                    staging = stage(append, at: index, into: &staged)
                }
                if case .answered(let result) = staging { results[index] = result }
            }
            wrote = write(&staged, into: &results) || wrote
            return results
        }
        if wrote { notifyWaiters() }
        return results
    }

    /// Batches given offsets and not yet written.
    private struct StagedWrite {
        var entries: [(index: Int, header: BatchHeader, parts: [ByteBuffer], logAppendTime: Int64)] = []
        var bytes = 0
        var records: Int64 = 0
        /// The offset the next staged batch gets.
        var nextOffset: Int64
        /// When the first and the last staged batch's requests came.
        var firstNow: Int64?
        var lastNow: Int64 = 0
        /// The staged batches' producers, as they are after those batches (usually one).
        var producers: [(id: Int64, entry: ProducerStateTable.Entry)] = []

        func producer(_ id: Int64) -> Int? { producers.firstIndex { $0.id == id } }
    }

    private enum Staging {
        case staged
        /// Not staged: a duplicate (answered with its first offsets) or refused.
        case answered(Result<AppendResult, AppendError>)
        /// The batch needs a new segment, and the staged batches must be written to the current one first.
        case rollFirst
    }

    /// Checks one batch and, when it is to be written, gives it the next offsets and stages it. Rolls the segment
    /// first when the batch needs a new one and nothing is staged. Call with the lock held.
    private func stage(_ append: Append, at index: Int, into staged: inout StagedWrite) -> Staging {
        let batch = append.batch
        guard !closed else { return .answered(.failure(.closed)) }
        guard case .leader(let leader) = role else { return .answered(.failure(.notLeader)) }
        if append.requiredAcks == -1, max(leader.isr.count, 1) < config.minInsyncReplicas {
            return .answered(.failure(.notEnoughReplicas))
        }
        guard batch.sizeInBytes <= config.maxMessageBytes else { return .answered(.failure(.messageTooLarge)) }
        let idempotent = batch.producerId >= 0 && batch.baseSequence >= 0
        if idempotent {
            let known = staged.producer(batch.producerId).map { staged.producers[$0].entry } ?? producers.entry(batch.producerId)
            switch ProducerStateTable.check(known, epoch: batch.producerEpoch, firstSequence: batch.baseSequence,
                                            lastSequence: batch.baseSequence &+ batch.lastOffsetDelta) {
            case .append:
                break
            case .duplicate(let firstOffset):
                return .answered(.success(AppendResult(
                    baseOffset: firstOffset, logAppendTime: -1, logStartOffset: logStartOffset, duplicate: true,
                    lastOffset: firstOffset + Int64(batch.lastOffsetDelta), highWatermark: highWatermark)))
            case .invalidEpoch:
                return .answered(.failure(.invalidProducerEpoch))
            case .outOfOrder:
                return .answered(.failure(.outOfOrderSequence))
            }
        }
        if needsRoll(incomingSize: batch.sizeInBytes, lastOffsetDelta: batch.lastOffsetDelta, now: append.now, staged: staged) {
            guard staged.entries.isEmpty else { return .rollFirst }
            do {
                try roll()
            } catch {
                return .answered(.failure(.storage("\(error)")))
            }
        }
        let baseOffset = staged.nextOffset
        let logAppendTime = config.timestampType == .logAppendTime ? append.now : -1
        let parts = Self.storedParts(of: batch, baseOffset: baseOffset, leaderEpoch: leaderEpoch, logAppendTime: logAppendTime)
        var header = BatchHeader(batch)
        header.baseOffset = baseOffset
        if logAppendTime >= 0 { header.maxTimestamp = logAppendTime }
        staged.entries.append((index, header, parts, logAppendTime))
        staged.bytes += header.size
        staged.records += Int64(batch.recordCount)
        staged.nextOffset = header.nextOffset
        if staged.firstNow == nil { staged.firstNow = append.now }
        staged.lastNow = append.now
        if idempotent {
            let written = ProducerStateTable.BatchRecord(
                firstSequence: batch.baseSequence, lastSequence: batch.baseSequence &+ batch.lastOffsetDelta,
                firstOffset: baseOffset, lastOffset: header.lastOffset, timestamp: header.maxTimestamp)
            if let index = staged.producer(batch.producerId) {
                staged.producers[index].entry = ProducerStateTable.recording(written, epoch: batch.producerEpoch,
                                                                             in: staged.producers[index].entry)
            } else {
                staged.producers.append((batch.producerId, ProducerStateTable.recording(
                    written, epoch: batch.producerEpoch, in: producers.entry(batch.producerId))))
            }
        }
        return .staged
    }

    /// Writes the staged batches in one `pwritev` and moves the log past them, filling in their results; returns
    /// whether anything was written. Leaves `staged` empty either way. Call with the lock held.
    private func write(_ staged: inout StagedWrite, into results: inout [Result<AppendResult, AppendError>]) -> Bool {
        defer { staged = StagedWrite(nextOffset: logEndOffset) }
        guard let first = staged.entries.first else { return false }
        do {
            try segments[segments.count - 1].append(staged.entries.map(\.header), parts: staged.entries.flatMap(\.parts),
                                                    now: staged.firstNow ?? 0)
        } catch {
            for entry in staged.entries { results[entry.index] = .failure(.storage(error.description)) }
            return false
        }
        if epochCache.latestEpoch.map({ $0 < leaderEpoch }) ?? true {
            epochCache.assign(epoch: leaderEpoch, startOffset: first.header.baseOffset)
        }
        logEndOffset = staged.nextOffset
        for (id, entry) in staged.producers { producers.set(entry, for: id) }
        if case .leader(let leader) = role, leader.isSoleInSyncReplica { highWatermark = logEndOffset }
        var flushFailure: AppendError?
        do {
            try flushIfDue(adding: staged.records, now: staged.lastNow)
        } catch {
            flushFailure = .storage((error as? StorageError)?.description ?? "\(error)")
        }
        for entry in staged.entries {
            results[entry.index] = flushFailure.map { .failure($0) } ?? .success(AppendResult(
                baseOffset: entry.header.baseOffset, logAppendTime: entry.logAppendTime, logStartOffset: logStartOffset,
                duplicate: false, lastOffset: entry.header.lastOffset, highWatermark: highWatermark))
        }
        return true
    }

    /// The bytes to write for a batch: a rewritten header prefix, then the producer's bytes as they are. For
    /// `LogAppendTime` the timestamp fields lie inside the CRC, so the whole header is rewritten and the CRC
    /// recomputed (over the new header part, continued over the untouched records).
    private static func storedParts(of batch: RecordBatch, baseOffset: Int64, leaderEpoch: Int32, logAppendTime: Int64) -> [ByteBuffer] {
        let bytes = batch.bytes
        let start = bytes.readerIndex
        let prefixSize = logAppendTime >= 0 ? RecordBatchLayout.headerSize : RecordBatchLayout.magic
        var prefix = ByteBufferAllocator().buffer(capacity: prefixSize)
        prefix.writeImmutableBuffer(bytes.getSlice(at: start, length: prefixSize)!)
        prefix.setInteger(baseOffset, at: RecordBatchLayout.baseOffset)
        prefix.setInteger(leaderEpoch, at: RecordBatchLayout.partitionLeaderEpoch)
        if logAppendTime >= 0 {
            var attributes = batch.attributes
            attributes.rawValue |= 0x08
            prefix.setInteger(attributes.rawValue, at: RecordBatchLayout.attributes)
            prefix.setInteger(logAppendTime, at: RecordBatchLayout.maxTimestamp)
            var crc = prefix.withUnsafeReadableBytes {
                CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[RecordBatchLayout.attributes...]))
            }
            crc = bytes.withUnsafeReadableBytes {
                CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[RecordBatchLayout.headerSize...]), continuing: crc)
            }
            prefix.setInteger(crc, at: RecordBatchLayout.crc)
        }
        return [prefix, bytes.getSlice(at: start + prefixSize, length: bytes.readableBytes - prefixSize)!]
    }

    /// Kafka's roll rules: size, age, a full index, or relative offsets that would not fit the index; counting
    /// the batches `staged` to go into the active segment before this one.
    private func needsRoll(incomingSize: Int, lastOffsetDelta: Int32, now: Int64, staged: StagedWrite) -> Bool {
        needsRoll(incomingSize: incomingSize, lastOffsetDelta: lastOffsetDelta, now: now, stagedBatches: staged.entries.count,
                  stagedBytes: staged.bytes, stagedSince: staged.firstNow, nextOffset: staged.nextOffset)
    }

    private func needsRoll(incomingSize: Int, lastOffsetDelta: Int32, now: Int64, stagedBatches: Int, stagedBytes: Int,
                           stagedSince: Int64?, nextOffset: Int64) -> Bool {
        let active = segments[segments.count - 1]
        guard !active.isEmpty || stagedBatches > 0 else { return false }
        let tooBig = active.size + stagedBytes + incomingSize > config.segmentBytes
        let tooOld = (active.firstAppendTime ?? stagedSince).map { now - $0 >= config.segmentMs } ?? false
        let offsetsOverflow = nextOffset + Int64(lastOffsetDelta) - active.baseOffset > Int64(Int32.max)
        return tooBig || tooOld || offsetsOverflow || !active.indexHasRoom(forBatches: stagedBatches + 1)
    }

    /// Closes the active segment to appends and starts a new one at the log end.
    private func roll() throws {
        let active = segments[segments.count - 1]
        try active.flush()
        active.log.releaseReservation()
        segments.append(try LogSegment(directory: directory, baseOffset: logEndOffset, config: config, create: true))
    }

    private func flushIfDue(adding records: Int64, now: Int64) throws {
        unflushedRecords += records
        guard unflushedRecords >= config.flushMessages || now - lastFlushTime >= config.flushMs else { return }
        try segments[segments.count - 1].flush()
        unflushedRecords = 0
        lastFlushTime = now
    }

    /// Forces everything written so far to disk.
    func flush() throws {
        try lock.withLock {
            try segments.last?.flush()
            unflushedRecords = 0
        }
    }

    // MARK: - Reading

    /// Bytes of one segment to send for a fetch: which file, from where, how many.
    struct Slice {
        let segment: LogSegment
        let position: Int
        let length: Int
    }

    enum ReadError: Error, Equatable {
        case offsetOutOfRange
        case notLeader
        case storage(String)
    }

    /// Finds the bytes to send for a consumer's fetch at `offset`, up to `maxBytes` (the first batch whole with
    /// `minOneBatch`), below the high watermark or, for read_committed, the last stable offset. Nil: nothing yet.
    /// Only the leader serves consumers.
    func read(from offset: Int64, maxBytes: Int, minOneBatch: Bool, readCommitted: Bool,
              partialLastBatch: Bool = false) throws(ReadError) -> (Slice?, Offsets) {
        try lock.locked { () throws(ReadError) -> (Slice?, Offsets) in
            // A fetch still waiting when the broker stops is answered after its logs are closed: their indexes
            // are unmapped then.
            guard !closed else { throw .storage("\(topic)-\(partition) is closed") }
            guard case .leader = role else { throw .notLeader }
            let offsets = currentOffsets
            guard offset >= logStartOffset, offset <= logEndOffset else { throw .offsetOutOfRange }
            let limit = readCommitted ? offsets.lastStableOffset : offsets.highWatermark
            guard offset < limit, maxBytes > 0 || minOneBatch else { return (nil, offsets) }
            return (try slice(from: offset, maxBytes: maxBytes, minOneBatch: minOneBatch, limit: limit,
                              partialLastBatch: partialLastBatch), offsets)
        }
    }

    /// Reads the whole log from `offset` below `limit` regardless of role (the coordinator loading its groups, a
    /// replica's own inspection). Call with the lock held.
    private func slice(from offset: Int64, maxBytes: Int, minOneBatch: Bool, limit: Int64,
                       partialLastBatch: Bool = false) throws(ReadError) -> Slice? {
        var index = segmentIndex(containing: offset)
        while index < segments.count {
            let segment = segments[index]
            do {
                if offset < segment.nextOffset,
                   let (position, length) = try segment.slice(from: offset, maxBytes: maxBytes, maxOffset: limit,
                                                              minOneBatch: minOneBatch, partialLastBatch: partialLastBatch) {
                    // Length 0: the batch at `offset` does not fit; nothing this time (not the next segment's).
                    return length > 0 ? Slice(segment: segment, position: position, length: length) : nil
                }
            } catch {
                throw .storage("\(error)")
            }
            index += 1
        }
        return nil
    }

    /// Reads committed bytes (below the high watermark) from `offset` whatever the replica's role: how a group
    /// coordinator that just became leader replays its offsets partition.
    func readLocal(from offset: Int64, maxBytes: Int) throws(ReadError) -> Slice? {
        try lock.locked { () throws(ReadError) -> Slice? in
            guard !closed else { throw .storage("\(topic)-\(partition) is closed") }
            guard offset >= logStartOffset, offset < logEndOffset else { return nil }
            return try slice(from: offset, maxBytes: maxBytes, minOneBatch: true, limit: logEndOffset)
        }
    }

    /// A file region for a slice, with its own descriptor that the caller must close once the bytes are sent.
    func fileRegion(for slice: Slice) throws -> FileRegion {
        try lock.withLock {
            guard !closed else { throw StorageError("read", path: directory, errno: EBADF) }
            let handle = try slice.segment.log.regionHandle()
            return FileRegion(fileHandle: handle, readerIndex: slice.position, endIndex: slice.position + slice.length)
        }
    }

    /// The batches of a slice as bytes in memory (for callers that cannot use a file region).
    func bytes(for slice: Slice) throws -> ByteBuffer {
        try lock.withLock { try slice.segment.log.read(at: slice.position, length: slice.length) }
    }

    private func segmentIndex(containing offset: Int64) -> Int {
        var low = 0
        var high = segments.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if segments[middle].baseOffset <= offset { low = middle } else { high = middle - 1 }
        }
        return low
    }

    // MARK: - Offsets by time

    /// ListOffsets by timestamp: the first record whose timestamp is at least `timestamp` (exact to the record),
    /// or nil when there is none.
    func offset(forTimestamp timestamp: Int64) throws -> (offset: Int64, timestamp: Int64)? {
        try lock.withLock {
            for segment in segments where segment.maxTimestamp >= timestamp && segment.nextOffset > logStartOffset {
                if let found = try segment.findRecord(atOrAfter: timestamp, startOffset: logStartOffset) {
                    return found
                }
            }
            return nil
        }
    }

    /// ListOffsets MAX_TIMESTAMP: the record with the largest timestamp.
    func maxTimestampRecord() throws -> (offset: Int64, timestamp: Int64)? {
        try lock.withLock {
            guard let segment = segments.filter({ $0.nextOffset > logStartOffset && $0.maxTimestamp >= 0 })
                .max(by: { $0.maxTimestamp < $1.maxTimestamp })
            else { return nil }
            return try segment.maxTimestampRecord()
        }
    }

    /// The end offset of `epoch` (OffsetForLeaderEpoch), from the leader-epoch cache: the largest epoch at most
    /// `epoch` and where the next one began. A log that has never been written in an epoch answers with the
    /// current epoch and its log end offset while `epoch` is not newer; nil means undefined.
    func endOffset(forEpoch epoch: Int32) -> (epoch: Int32, endOffset: Int64)? {
        lock.withLock {
            if epochCache.latestEpoch.map({ $0 < leaderEpoch }) ?? true, epoch >= leaderEpoch {
                // The current epoch has no batch yet: it ends (so far) at the log end.
                return epoch == leaderEpoch ? (leaderEpoch, logEndOffset) : nil
            }
            return epochCache.endOffset(for: epoch, logEndOffset: logEndOffset)
        }
    }

    /// The leader epochs and their start offsets, oldest first (the leader-epoch checkpoint).
    var leaderEpochs: [LeaderEpochCache.Entry] { lock.withLock { epochCache.entries } }

    // MARK: - Deleting

    /// DeleteRecords: moves the log start offset to `offset` (-1: the high watermark) and removes segments that
    /// lie wholly below it. Returns the new low watermark.
    func deleteRecords(before offset: Int64) throws(ReadError) -> Int64 {
        try lock.locked { () throws(ReadError) -> Int64 in
            let target = offset == -1 ? highWatermark : offset
            guard target >= 0, target <= highWatermark else { throw .offsetOutOfRange }
            if target > logStartOffset {
                logStartOffset = target
                epochCache.truncate(before: target)
                removeSegmentsBelowStart()
                writeLogStartOffset()
            }
            return logStartOffset
        }
    }

    /// Retention: deletes the oldest segments (never the active one) whose newest record is older than
    /// `retention.ms`, then while the partition is over `retention.bytes`. Returns how many were deleted.
    @discardableResult
    func enforceRetention(now: Int64) -> Int {
        lock.withLock {
            var deleted = 0
            if config.retentionMs >= 0 {
                while segments.count > 1, segments[0].maxTimestamp < now - config.retentionMs {
                    segments.removeFirst().delete()
                    deleted += 1
                }
            }
            if config.retentionBytes >= 0 {
                var total = segments.reduce(Int64(0)) { $0 + Int64($1.size) }
                while segments.count > 1, total - Int64(segments[0].size) >= config.retentionBytes {
                    total -= Int64(segments[0].size)
                    segments.removeFirst().delete()
                    deleted += 1
                }
            }
            if deleted > 0, segments[0].baseOffset > logStartOffset {
                logStartOffset = segments[0].baseOffset
                epochCache.truncate(before: logStartOffset)
                producers.removeBatches(before: logStartOffset)
                writeLogStartOffset()
            }
            return deleted
        }
    }

    private func removeSegmentsBelowStart() {
        while segments.count > 1, segments[0].nextOffset <= logStartOffset, segments[1].baseOffset <= logStartOffset {
            segments.removeFirst().delete()
        }
        producers.removeBatches(before: logStartOffset)
    }

    private static func readLogStartOffset(_ directory: String) -> Int64? {
        guard let text = try? readSmallFile("\(directory)/\(logStartFile)") else { return nil }
        return Int64(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    private func writeLogStartOffset() {
        try? writeSmallFile("\(directory)/\(Self.logStartFile)", contents: "\(logStartOffset)\n")
    }

    // MARK: - Long polling

    /// Registers `wake` to run (on the appending thread) after each append until removed.
    func addWaiter(_ id: UInt64, _ wake: @escaping @Sendable () -> Void) {
        waiters.withLockedValue { $0[id] = wake }
    }

    func removeWaiter(_ id: UInt64) {
        _ = waiters.withLockedValue { $0.removeValue(forKey: id) }
    }

    private func notifyWaiters() {
        let callbacks = waiters.withLockedValue { Array($0.values) }
        for wake in callbacks { wake() }
    }

    // MARK: - Inspection (tests, tools)

    /// Base offsets of the segments, oldest first.
    var segmentBaseOffsets: [Int64] { lock.withLock { segments.map(\.baseOffset) } }

    /// Offset-index entries of each segment, oldest first.
    var segmentIndexEntryCounts: [Int] { lock.withLock { segments.map(\.offsetIndex.entryCount) } }

    /// Bytes on disk in all segments.
    var sizeInBytes: Int { lock.withLock { segments.reduce(0) { $0 + $1.size } } }

    // MARK: - Closing

    func close() {
        lock.withLock {
            guard !closed else { return }
            closed = true
            for segment in segments {
                try? segment.flush()
                segment.close()
            }
        }
    }

    /// Closes the log and removes its directory.
    func delete() {
        lock.withLock {
            closed = true
            for segment in segments { segment.delete() }
            segments.removeAll()
            unlink("\(directory)/\(Self.logStartFile)")
            unlink("\(directory)/\(LeaderEpochCache.fileName)")
            unlink("\(directory)/partition.metadata")
            rmdir(directory)
        }
    }
}
