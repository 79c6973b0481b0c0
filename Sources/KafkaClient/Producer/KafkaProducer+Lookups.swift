extension KafkaProducer {
    /// The partitions of `topic` (Java's `partitionsFor`), retried within `max.block.ms`; a topic that does not
    /// exist is not created (UNKNOWN_TOPIC_OR_PARTITION).
    public func partitionsFor(_ topic: String) async throws(KafkaProducerError) -> [PartitionInfo] {
        do {
            return try await cluster.partitions(of: topic, deadline: .now + configuration.maxBlock)
        } catch {
            if case .broker(.unknownTopicOrPartition, _) = error { throw .unknownTopic(topic, lastError: nil) }
            throw .broker(error.brokerErrorCode ?? .networkException, topic: topic, partition: -1)
        }
    }
}
