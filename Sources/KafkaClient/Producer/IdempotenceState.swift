/// An idempotent producer's identity and per-partition sequence numbers.
///
/// Each batch carries the sequence of its first record; the broker accepts a batch only when it follows the
/// last one it wrote, recognises retries of the last five, and refuses gaps. Sequences are given to batches when
/// they are first drained, in order; retried batches keep theirs and go out again in sequence order, one at a
/// time per partition, until the partition has caught up.
struct IdempotenceState {
    var producerId: Int64 = -1
    var epoch: Int16 = -1
    /// The sequence the next new batch of a partition gets.
    private(set) var nextSequence: [TopicPartition: Int32] = [:]
    /// Batches sent and not yet answered, per partition, in sequence order.
    private(set) var inFlight: [TopicPartition: [ProducerBatch]] = [:]
    /// Partitions with a batch waiting to be retried: no new batches go out until it has been.
    private(set) var retrying: Set<TopicPartition> = []
    /// The epoch must be bumped (the broker lost our state) once nothing is in flight.
    var needsEpochBump = false

    var hasProducerId: Bool { producerId >= 0 }
    var inFlightCount: Int { inFlight.values.reduce(0) { $0 + $1.count } }

    /// Whether a batch may be sent now.
    func canSend(_ batch: ProducerBatch, of partition: TopicPartition) -> Bool {
        guard hasProducerId, !needsEpochBump else { return false }
        let flying = inFlight[partition] ?? []
        if batch.baseSequence >= 0 {
            // A retry goes out alone, and only once everything before it is answered.
            return flying.isEmpty
        }
        return !retrying.contains(partition) && flying.count < 5
    }

    /// Gives a new batch its sequence, or re-stamps a retried one after an epoch bump.
    mutating func stamp(_ batch: ProducerBatch, of partition: TopicPartition) {
        if batch.baseSequence < 0 || batch.producerEpoch != epoch {
            let sequence = nextSequence[partition, default: 0]
            batch.reassignProducerState(producerId: producerId, epoch: epoch, baseSequence: sequence)
            nextSequence[partition] = sequence &+ Int32(batch.recordCount)
        }
        inFlight[partition, default: []].append(batch)
        inFlight[partition]?.sort { $0.baseSequence < $1.baseSequence }
        retrying.remove(partition)
    }

    /// The batch was answered (either way) and is no longer in flight.
    mutating func answered(_ batch: ProducerBatch, of partition: TopicPartition) {
        inFlight[partition]?.removeAll { $0 === batch }
        if inFlight[partition]?.isEmpty == true { inFlight[partition] = nil }
    }

    /// The batch goes back for a retry.
    mutating func willRetry(_ batch: ProducerBatch, of partition: TopicPartition) {
        answered(batch, of: partition)
        retrying.insert(partition)
    }

    /// Whether `batch` is the oldest unanswered batch of its partition: if the broker then says its sequence is
    /// out of order, the broker has lost our state (rather than an earlier batch still being under way).
    func isOldest(_ batch: ProducerBatch, of partition: TopicPartition) -> Bool {
        inFlight[partition]?.first === batch
    }

    /// A new epoch (KIP-360): every partition starts again from sequence 0; queued batches are re-stamped in
    /// order when they are next sent.
    mutating func adopt(producerId: Int64, epoch: Int16) {
        self.producerId = producerId
        self.epoch = epoch
        nextSequence = [:]
        needsEpochBump = false
    }
}
