import KafkaProtocol

/// A topic as ``KafkaAdmin/listTopics(includeInternal:)`` lists it (Java's `TopicListing`).
public struct TopicListing: Sendable, Hashable {
    /// The topic's name.
    public var name: String
    /// The topic id (zero from brokers before Metadata v10).
    public var id: KafkaUUID
    /// Whether the topic is one of Kafka's own (`__consumer_offsets`, `__transaction_state`).
    public var isInternal: Bool
}
