extension KafkaProducer {
    /// The partitions of `topic` (Java's `partitionsFor`), retried within `max.block.ms`; a topic that does not
    /// exist is not created: ``KafkaProducerError/broker(_:topic:partition:)`` with UNKNOWN_TOPIC_OR_PARTITION, as
    /// from the consumer's `partitionsFor`.
    public func partitionsFor(_ topic: String) async throws(KafkaProducerError) -> [PartitionInfo] {
        do {
            return try await cluster.partitions(of: topic, deadline: .now + configuration.maxBlock)
        } catch {
            throw .broker(error.brokerErrorCode ?? .networkException, topic: topic, partition: -1)
        }
    }
}
