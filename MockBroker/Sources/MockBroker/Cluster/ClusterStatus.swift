/// A ``MockCluster`` at one moment: what `GET /status` of the control endpoint returns.
public struct ClusterStatus: Sendable, Hashable, Codable {
    /// One broker.
    public struct Broker: Sendable, Hashable, Codable {
        /// `node.id`: 0..<N.
        public var id: Int32
        /// The address clients are given.
        public var host: String
        public var port: Int32
        /// Serving (not stopped or killed).
        public var running: Bool
        /// Registered with the controller (false once fenced: stopped, or its session expired).
        public var registered: Bool
        /// Cut off from clients and the other brokers.
        public var isolated: Bool
    }

    /// One topic (`__consumer_offsets` included).
    public struct Topic: Sendable, Hashable, Codable {
        public var name: String
        /// Its partitions, by index.
        public var partitions: [PartitionStatus]
    }

    /// A consumer group, as its coordinator has it.
    public struct Group: Sendable, Hashable, Codable {
        /// `group.id`.
        public var groupId: String
        /// The broker coordinating it.
        public var coordinator: Int32
        /// Kafka's name of the group state (`Stable`, `PreparingRebalance`, `Empty`, ...).
        public var state: String
        /// The generation id.
        public var generation: Int32
        /// The member ids.
        public var members: [String]
    }

    /// The controller's broker id (-1 when no broker is registered).
    public var controller: Int32
    /// Every broker, running or not, by id.
    public var brokers: [Broker]
    /// Every topic, by name.
    public var topics: [Topic]
    /// Every group of a running coordinator, by id.
    public var groups: [Group]
}
