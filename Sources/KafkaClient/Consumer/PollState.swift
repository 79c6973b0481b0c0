import KafkaCompression

/// What ``KafkaConsumer/poll(timeout:)`` keeps from one call to the next: the partition it was reading, the
/// readers whose records it handed out (processed once poll is called again), an error to report next.
///
/// `@unchecked Sendable`: a poll takes the state out of the consumer's lock box and puts it back when it returns,
/// so only one poll uses an instance at a time (a concurrent poll gets a fresh one).
final class PollState: @unchecked Sendable {
    var reader: PartitionReader?
    var handedOut: [PartitionReader] = []
    var deferred: KafkaConsumerError?
    let workspace = CompressionWorkspace()
}
