import NIOConcurrencyHelpers
import Synchronization

/// The position of one assigned partition: the offset of the next record to hand out. The record iterator moves
/// it once per record (a relaxed atomic store, no lock); commits read it.
final class PartitionPosition: Sendable {
    static let unknown: Int64 = -1
    private let offset = Atomic<Int64>(PartitionPosition.unknown)
    private let epoch = Atomic<Int32>(-1)

    var value: Int64 { offset.load(ordering: .acquiring) }
    var leaderEpoch: Int32 { epoch.load(ordering: .relaxed) }

    func store(_ next: Int64, leaderEpoch: Int32) {
        offset.store(next, ordering: .releasing)
        epoch.store(leaderEpoch, ordering: .relaxed)
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
        var need: PositionNeed?
        /// Increases whenever the position is set from outside the iterator (assign, seek, reset), so fetches
        /// started before are recognised as stale.
        var epoch: UInt64
        var highWatermark: Int64 = -1
        var logStartOffset: Int64 = -1
        var lastStableOffset: Int64 = -1
    }

    private struct State {
        var mode: Mode = .none
        var partitions: [TopicPartition: Partition] = [:]
        var nextEpoch: UInt64 = 1
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
                state.partitions[partition] = Partition(position: PartitionPosition(), need: lookupCommitted ? .committed : .reset,
                                                        epoch: state.nextEpoch)
                state.nextEpoch += 1
            }
        }
    }

    /// Removes partitions; returns their last positions (for committing).
    @discardableResult
    func remove(_ partitions: some Sequence<TopicPartition>) -> [TopicPartition: Int64] {
        state.withLockedValue { state in
            var positions: [TopicPartition: Int64] = [:]
            for partition in partitions {
                if let removed = state.partitions.removeValue(forKey: partition), removed.position.value >= 0 {
                    positions[partition] = removed.position.value
                }
            }
            return positions
        }
    }

    func contains(_ partition: TopicPartition) -> Bool { state.withLockedValue { $0.partitions[partition] != nil } }

    // MARK: - Positions

    func position(of partition: TopicPartition) -> PartitionPosition? {
        state.withLockedValue { $0.partitions[partition]?.position }
    }

    /// Sets a position from outside the iterator (seek, committed offset, reset).
    func seek(_ partition: TopicPartition, to offset: Int64, leaderEpoch: Int32 = -1) -> Bool {
        state.withLockedValue { state in
            guard var entry = state.partitions[partition] else { return false }
            entry.position.store(offset, leaderEpoch: leaderEpoch)
            entry.need = nil
            entry.epoch = state.nextEpoch
            state.nextEpoch += 1
            state.partitions[partition] = entry
            return true
        }
    }

    /// Invalidates a partition's fetches in flight and buffered, keeping its position: the next fetch starts at
    /// the position again (a reader stopped part-way through fetched data).
    func resync(_ partition: TopicPartition) {
        state.withLockedValue { state in
            guard state.partitions[partition] != nil else { return }
            state.partitions[partition]?.epoch = state.nextEpoch
            state.nextEpoch += 1
        }
    }

    func epoch(of partition: TopicPartition) -> UInt64? { state.withLockedValue { $0.partitions[partition]?.epoch } }

    /// Marks a partition to be reset (out of range, `seekToBeginning`, `seekToEnd`).
    func requestReset(_ partition: TopicPartition, to need: PositionNeed) {
        state.withLockedValue { state in
            guard var entry = state.partitions[partition] else { return }
            entry.need = need
            entry.epoch = state.nextEpoch
            state.nextEpoch += 1
            state.partitions[partition] = entry
        }
    }

    /// Partitions waiting for a committed offset or a reset.
    var partitionsNeedingPositions: [(TopicPartition, PositionNeed)] {
        state.withLockedValue { state in state.partitions.compactMap { key, value in value.need.map { (key, $0) } } }
    }

    /// The positions to commit: every assigned partition that has one.
    var consumedOffsets: [TopicPartition: OffsetAndMetadata] {
        state.withLockedValue { state in
            var offsets: [TopicPartition: OffsetAndMetadata] = [:]
            for (partition, entry) in state.partitions where entry.need == nil && entry.position.value >= 0 {
                let epoch = entry.position.leaderEpoch
                offsets[partition] = OffsetAndMetadata(offset: entry.position.value, leaderEpoch: epoch >= 0 ? epoch : nil)
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

    /// Assigned partitions that are not paused and have a position.
    var fetchable: [Fetchable] {
        state.withLockedValue { state in
            state.partitions.compactMap { key, value in
                guard !value.paused, value.need == nil else { return nil }
                let offset = value.position.value
                guard offset >= 0 else { return nil }
                return Fetchable(partition: key, offset: offset, leaderEpoch: value.position.leaderEpoch, epoch: value.epoch)
            }
        }
    }

    /// Whether a fetch result for `partition` at `epoch` is still wanted.
    func isCurrent(_ partition: TopicPartition, epoch: UInt64) -> Bool {
        state.withLockedValue { state in
            guard let entry = state.partitions[partition] else { return false }
            return entry.epoch == epoch && !entry.paused && entry.need == nil
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
            guard let entry = state.partitions[partition], entry.highWatermark >= 0, entry.position.value >= 0 else { return nil }
            return max(0, entry.highWatermark - entry.position.value)
        }
    }

    // MARK: - Pausing

    func setPaused(_ partitions: some Sequence<TopicPartition>, _ paused: Bool) {
        state.withLockedValue { state in
            for partition in partitions where state.partitions[partition] != nil {
                state.partitions[partition]?.paused = paused
                if paused {
                    // Buffered records of a paused partition are dropped: they are fetched again on resume.
                    state.partitions[partition]?.epoch = state.nextEpoch
                    state.nextEpoch += 1
                }
            }
        }
    }

    var pausedPartitions: Set<TopicPartition> {
        state.withLockedValue { Set($0.partitions.filter { $0.value.paused }.keys) }
    }
}
