import NIOConcurrencyHelpers
import Synchronization

/// The position of one assigned partition, shared by the reader that hands out its records, the application (seek,
/// commit) and the group (revocation):
/// - `next`: the offset of the next record to hand out;
/// - `processed`: the application is done with the records before it — it asked for more after they were handed
///   out. Auto-commit and revocations commit this, so an application that dies in the middle of a record gets that
///   record again rather than losing it;
/// - `epoch`: changes whenever the position is set from outside the reader (assign, seek, reset, pause,
///   revocation). Fetched data and readers of an older epoch are stale: a reader stops at its next record.
final class PartitionPosition: Sendable {
    static let unknown: Int64 = -1

    private struct State {
        var next = PartitionPosition.unknown
        var processed = PartitionPosition.unknown
        var leaderEpoch: Int32 = -1
        var epoch: UInt64
    }

    private let state: Mutex<State>

    init(epoch: UInt64) {
        state = Mutex(State(epoch: epoch))
    }

    var next: Int64 { state.withLock { $0.next } }
    var processed: Int64 { state.withLock { $0.processed } }
    var leaderEpoch: Int32 { state.withLock { $0.leaderEpoch } }
    var epoch: UInt64 { state.withLock { $0.epoch } }

    /// `next`, `processed` and the leader epoch at once (for commits).
    var snapshot: (next: Int64, processed: Int64, leaderEpoch: Int32) {
        state.withLock { ($0.next, $0.processed, $0.leaderEpoch) }
    }

    /// A reader moves the position to `next`: past a record it hands out (`handingOut`: the application asked for
    /// it, so what was handed out before is processed), or past records no one gets (control batches, aborted
    /// transactions, compacted-away offsets). Nothing changes, and the answer is false, when the position was set
    /// from outside since the reader's data was fetched (`epoch`).
    func advance(to next: Int64, leaderEpoch: Int32, ifEpoch expected: UInt64, handingOut: Bool) -> Bool {
        state.withLock { state in
            guard state.epoch == expected else { return false }
            if handingOut { state.processed = state.next }
            state.next = max(state.next, next)
            state.leaderEpoch = leaderEpoch
            return true
        }
    }

    /// The application asked for more after the last record handed out: everything before `next` is processed.
    func markProcessed(ifEpoch expected: UInt64) {
        state.withLock { state in
            if state.epoch == expected { state.processed = state.next }
        }
    }

    /// Sets the position from outside the reader (seek, committed offset, reset), with a new epoch.
    func set(_ offset: Int64, leaderEpoch: Int32, epoch: UInt64) {
        state.withLock { state in
            state.next = offset
            state.processed = offset
            state.leaderEpoch = leaderEpoch
            state.epoch = epoch
        }
    }

    /// A new epoch, the offsets kept: readers and fetched data of the old one are stale.
    func renew(epoch: UInt64) {
        state.withLock { $0.epoch = epoch }
    }
}

/// What the consumer is reading: its subscription or manual assignment, and per partition its position, whether
/// it is paused, and whether its position must be looked up (committed offset) or reset (`auto.offset.reset`).
final class SubscriptionState: Sendable {
    enum Mode: Sendable, Equatable {
        case none
        case subscribed(Set<String>)
        case assigned
    }

    /// Why a partition has no position yet.
    enum PositionNeed: Sendable, Equatable {
        /// Ask the group for the committed offset (then reset if there is none).
        case committed
        /// Reset per `auto.offset.reset` (no committed offset, or out of range).
        case reset
        /// Reset to a given end: earliest (-2) or latest (-1) — `seekToBeginning`/`seekToEnd`.
        case resetTo(Int64)
        /// `auto.offset.reset=none` and nothing committed: reported, and left until the application seeks.
        case awaitingSeek
    }

    struct Partition: Sendable {
        let position: PartitionPosition
        var paused = false
        /// Being revoked: nothing more is fetched or handed out while its offsets are committed.
        var frozen = false
        var need: PositionNeed?
        var highWatermark: Int64 = -1
        var logStartOffset: Int64 = -1
        var lastStableOffset: Int64 = -1

        var isFetchable: Bool { !paused && !frozen && need == nil }
    }

    private struct State {
        var mode: Mode = .none
        var partitions: [TopicPartition: Partition] = [:]
        /// Position epochs come from one counter, so no two ever repeat.
        var nextEpoch: UInt64 = 1

        mutating func newEpoch() -> UInt64 {
            defer { nextEpoch += 1 }
            return nextEpoch
        }
    }

    private let state = NIOLockedValueBox(State())

    var mode: Mode { state.withLockedValue { $0.mode } }

    func setMode(_ mode: Mode) throws(KafkaConsumerError) {
        let accepted = state.withLockedValue { state -> Bool in
            switch (state.mode, mode) {
            case (.none, _), (.subscribed, .subscribed), (.assigned, .assigned), (_, .none):
                state.mode = mode
                return true
            default:
                return false
            }
        }
        guard accepted else { throw .subscriptionConflict("subscribe and assign cannot be mixed; unsubscribe first") }
    }

    // MARK: - Assignment

    var assignedPartitions: Set<TopicPartition> { state.withLockedValue { Set($0.partitions.keys) } }

    /// Adds partitions (with no position yet: the committed offset is looked up first when `lookupCommitted`).
    func add(_ partitions: some Sequence<TopicPartition>, lookupCommitted: Bool) {
        state.withLockedValue { state in
            for partition in partitions where state.partitions[partition] == nil {
                state.partitions[partition] = Partition(position: PartitionPosition(epoch: state.newEpoch()),
                                                        need: lookupCommitted ? .committed : .reset)
            }
        }
    }

    /// Removes partitions; a reader still holding one stops at its next record.
    func remove(_ partitions: some Sequence<TopicPartition>) {
        state.withLockedValue { state in
            for partition in partitions {
                state.partitions.removeValue(forKey: partition)?.position.renew(epoch: state.newEpoch())
            }
        }
    }

    /// Stops fetching and handing out records of partitions about to be revoked (their offsets are committed
    /// first, and nothing read meanwhile may escape that commit).
    func freeze(_ partitions: some Sequence<TopicPartition>) {
        state.withLockedValue { state in
            for partition in partitions where state.partitions[partition] != nil {
                state.partitions[partition]!.frozen = true
                state.partitions[partition]!.position.renew(epoch: state.newEpoch())
            }
        }
    }

    func contains(_ partition: TopicPartition) -> Bool { state.withLockedValue { $0.partitions[partition] != nil } }

    // MARK: - Positions

    func position(of partition: TopicPartition) -> PartitionPosition? {
        state.withLockedValue { $0.partitions[partition]?.position }
    }

    /// Sets a position from outside the reader (seek).
    func seek(_ partition: TopicPartition, to offset: Int64, leaderEpoch: Int32 = -1) -> Bool {
        state.withLockedValue { state in
            guard state.partitions[partition] != nil else { return false }
            state.partitions[partition]!.position.set(offset, leaderEpoch: leaderEpoch, epoch: state.newEpoch())
            state.partitions[partition]!.need = nil
            return true
        }
    }

    /// A looked-up position (committed offset, or a reset's ListOffsets answer), taken only if nothing set the
    /// position since the lookup started (a seek made meanwhile wins).
    func resolve(_ partition: TopicPartition, to offset: Int64, leaderEpoch: Int32 = -1, ifEpoch expected: UInt64) {
        state.withLockedValue { state in
            guard let entry = state.partitions[partition], entry.need != nil, entry.position.epoch == expected else { return }
            entry.position.set(offset, leaderEpoch: leaderEpoch, epoch: state.newEpoch())
            state.partitions[partition]!.need = nil
        }
    }

    /// Invalidates a partition's fetches in flight and buffered, keeping its position: the next fetch starts at
    /// the position again (a reader stopped part-way through fetched data).
    func resync(_ partition: TopicPartition) {
        state.withLockedValue { state in
            state.partitions[partition]?.position.renew(epoch: state.newEpoch())
        }
    }

    /// Marks a partition to be reset (out of range, `seekToBeginning`, `seekToEnd`); false when not assigned (or,
    /// with `ifEpoch`, when the position was set since).
    @discardableResult
    func requestReset(_ partition: TopicPartition, to need: PositionNeed, ifEpoch expected: UInt64? = nil) -> Bool {
        state.withLockedValue { state in
            guard let entry = state.partitions[partition] else { return false }
            if let expected, entry.position.epoch != expected { return false }
            state.partitions[partition]!.need = need
            state.partitions[partition]!.position.renew(epoch: state.newEpoch())
            return true
        }
    }

    /// Partitions waiting for a committed offset or a reset, with the epoch a lookup's answer must still match.
    var partitionsNeedingPositions: [(partition: TopicPartition, need: PositionNeed, epoch: UInt64)] {
        state.withLockedValue { state in
            state.partitions.compactMap { key, value in value.need.map { (key, $0, value.position.epoch) } }
        }
    }

    /// What to commit for every assigned partition that has a position: the offset after the last record handed
    /// out (`commit()`, close), or after the last one the application is done with (auto-commit, revocation).
    func committableOffsets(processedOnly: Bool) -> [TopicPartition: OffsetAndMetadata] {
        state.withLockedValue { state in
            var offsets: [TopicPartition: OffsetAndMetadata] = [:]
            for (partition, entry) in state.partitions where entry.need == nil {
                let (next, processed, leaderEpoch) = entry.position.snapshot
                let offset = processedOnly ? processed : next
                guard offset >= 0 else { continue }
                offsets[partition] = OffsetAndMetadata(offset: offset, leaderEpoch: leaderEpoch >= 0 ? leaderEpoch : nil)
            }
            return offsets
        }
    }

    // MARK: - Fetching

    /// A partition to fetch: where from, and the epoch its result must still match.
    struct Fetchable: Sendable {
        var partition: TopicPartition
        var offset: Int64
        var leaderEpoch: Int32
        var epoch: UInt64
    }

    /// Assigned partitions that are not paused (nor being revoked) and have a position.
    var fetchable: [Fetchable] {
        state.withLockedValue { state in
            state.partitions.compactMap { key, value in
                guard value.isFetchable else { return nil }
                let (next, _, leaderEpoch) = value.position.snapshot
                guard next >= 0 else { return nil }
                return Fetchable(partition: key, offset: next, leaderEpoch: leaderEpoch, epoch: value.position.epoch)
            }
        }
    }

    /// Whether a fetch result for `partition` at `epoch` is still wanted.
    func isCurrent(_ partition: TopicPartition, epoch: UInt64) -> Bool {
        state.withLockedValue { state in
            guard let entry = state.partitions[partition] else { return false }
            return entry.isFetchable && entry.position.epoch == epoch
        }
    }

    func updateOffsets(_ partition: TopicPartition, highWatermark: Int64, logStartOffset: Int64, lastStableOffset: Int64) {
        state.withLockedValue { state in
            state.partitions[partition]?.highWatermark = highWatermark
            state.partitions[partition]?.logStartOffset = logStartOffset
            state.partitions[partition]?.lastStableOffset = lastStableOffset
        }
    }

    /// Records behind the high watermark (`records-lag`), when known.
    func lag(of partition: TopicPartition) -> Int64? {
        state.withLockedValue { state in
            guard let entry = state.partitions[partition], entry.highWatermark >= 0 else { return nil }
            let next = entry.position.next
            return next >= 0 ? max(0, entry.highWatermark - next) : nil
        }
    }

    /// A number that changes whenever any position moves (the group's sign that the application is reading).
    var progress: Int64 {
        state.withLockedValue { state in state.partitions.values.reduce(0) { $0 &+ $1.position.next } }
    }

    // MARK: - Pausing

    /// Pauses or resumes; false when a partition is not assigned (and nothing changes).
    func setPaused(_ partitions: [TopicPartition], _ paused: Bool) -> Bool {
        state.withLockedValue { state in
            guard partitions.allSatisfy({ state.partitions[$0] != nil }) else { return false }
            for partition in partitions {
                state.partitions[partition]!.paused = paused
                // A reader of a paused partition stops; its buffered records are fetched again on resume.
                if paused { state.partitions[partition]!.position.renew(epoch: state.newEpoch()) }
            }
            return true
        }
    }

    /// The application declared everything handed out processed (an explicit commit).
    func markAllProcessed() {
        state.withLockedValue { state in
            for entry in state.partitions.values { entry.position.markProcessed(ifEpoch: entry.position.epoch) }
        }
    }

    var pausedPartitions: Set<TopicPartition> {
        state.withLockedValue { Set($0.partitions.filter { $0.value.paused }.keys) }
    }
}
