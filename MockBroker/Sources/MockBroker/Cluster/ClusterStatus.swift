/// A ``MockCluster`` at one moment: what `GET /status` of the control endpoint returns.
public struct ClusterStatus: Sendable, Hashable, Codable {
    public struct Broker: Sendable, Hashable, Codable {
        public var id: Int32
        public var host: String
        public var port: Int32
        /// Serving (not stopped or killed).
        public var running: Bool
        /// Registered with the controller (false once fenced: stopped, or its session expired).
        public var registered: Bool
        /// Cut off from clients and the other brokers.
        public var isolated: Bool
    }

    public struct Topic: Sendable, Hashable, Codable {
        public var name: String
        public var partitions: [PartitionStatus]
    }

    public struct Group: Sendable, Hashable, Codable {
        public var groupId: String
        /// The broker coordinating it.
        public var coordinator: Int32
        public var state: String
        public var generation: Int32
        public var members: [String]
    }

    public var controller: Int32
    public var brokers: [Broker]
    public var topics: [Topic]
    public var groups: [Group]
}
