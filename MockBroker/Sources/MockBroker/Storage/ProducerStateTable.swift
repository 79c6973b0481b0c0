/// Per-partition state of idempotent producers: for each producer id, its epoch and the sequence ranges and
/// offsets of its last five batches, so a retried batch is recognised and acknowledged with its original offset
/// instead of being written twice, and a gap in sequence numbers is refused.
struct ProducerStateTable {
    struct BatchRecord: Hashable {
        var firstSequence: Int32
        var lastSequence: Int32
        var firstOffset: Int64
        var lastOffset: Int64
        var timestamp: Int64
    }

    struct Entry: Hashable {
        var epoch: Int16
        /// Oldest first; at most ``ProducerStateTable/retainedBatches``.
        var batches: [BatchRecord]
    }

    /// How many recent batches Kafka keeps per producer (and so how many in-flight requests it tolerates).
    static let retainedBatches = 5

    private(set) var entries: [Int64: Entry] = [:]

    enum Verdict: Equatable {
        /// Write it.
        case append
        /// Already written: acknowledge with the original offsets.
        case duplicate(firstOffset: Int64)
        /// The epoch is older than the producer's current one (fenced).
        case invalidEpoch
        /// The sequence does not follow the last one written.
        case outOfOrder
    }

    /// What to do with a batch from an idempotent producer whose state is `entry` (nil: nothing known): Kafka's
    /// `ProducerAppendInfo` rules.
    static func check(_ entry: Entry?, epoch: Int16, firstSequence: Int32, lastSequence: Int32) -> Verdict {
        guard let entry else {
            // Nothing known: a new producer (or one whose state expired) must start at sequence 0.
            return firstSequence == 0 ? .append : .outOfOrder
        }
        if epoch < entry.epoch { return .invalidEpoch }
        if epoch > entry.epoch {
            // A bumped epoch restarts the sequence.
            return firstSequence == 0 ? .append : .outOfOrder
        }
        if let duplicate = entry.batches.first(where: { $0.firstSequence == firstSequence && $0.lastSequence == lastSequence }) {
            return .duplicate(firstOffset: duplicate.firstOffset)
        }
        guard let last = entry.batches.last else { return firstSequence == 0 ? .append : .outOfOrder }
        let expected = last.lastSequence == Int32.max ? 0 : last.lastSequence + 1
        return firstSequence == expected ? .append : .outOfOrder
    }

    /// Records a written batch.
    mutating func record(producerId: Int64, epoch: Int16, batch: BatchRecord) {
        entries[producerId] = Self.recording(batch, epoch: epoch, in: entries[producerId])
    }

    /// `entry` (nil: nothing known) after a batch of the producer's is written.
    static func recording(_ batch: BatchRecord, epoch: Int16, in entry: Entry?) -> Entry {
        var entry = entry ?? Entry(epoch: epoch, batches: [])
        if epoch != entry.epoch {
            entry = Entry(epoch: epoch, batches: [])
        }
        entry.batches.append(batch)
        if entry.batches.count > Self.retainedBatches { entry.batches.removeFirst() }
        return entry
    }

    func entry(_ producerId: Int64) -> Entry? { entries[producerId] }

    mutating func set(_ entry: Entry, for producerId: Int64) { entries[producerId] = entry }

    /// Forgets batches below the log start offset (after retention or DeleteRecords).
    mutating func removeBatches(before offset: Int64) {
        for (producerId, var entry) in entries {
            entry.batches.removeAll { $0.lastOffset < offset }
            entries[producerId] = entry.batches.isEmpty ? nil : entry
        }
    }
}
