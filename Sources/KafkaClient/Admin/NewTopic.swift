/// A topic for ``KafkaAdmin/createTopics(_:validateOnly:)``: a name, a partition count, a replication factor and
/// configs (Java's `NewTopic`).
public struct NewTopic: Sendable, Hashable {
    /// The topic's name.
    public var name: String
    /// Partitions; nil takes the broker's `num.partitions`.
    public var partitions: Int32?
    /// Replicas per partition; nil takes the broker's `default.replication.factor`.
    public var replicationFactor: Int16?
    /// Topic configs set on the topic (`retention.ms`, `cleanup.policy`, ...); the rest come from the broker.
    public var configs: [String: String]

    /// A topic named `name`; the broker's defaults fill in what is nil.
    public init(name: String, partitions: Int32? = nil, replicationFactor: Int16? = nil, configs: [String: String] = [:]) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.configs = configs
    }
}
