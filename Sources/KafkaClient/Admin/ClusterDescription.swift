/// The brokers of the cluster, its id and its controller (Java's `DescribeClusterResult`).
public struct ClusterDescription: Sendable, Hashable {
    /// A broker of the cluster (Java's `Node`).
    public struct Broker: Sendable, Hashable {
        /// The broker's id.
        public var id: Int32
        /// The host clients connect to.
        public var host: String
        /// The port clients connect to.
        public var port: Int32
        /// The broker's rack, when it has one.
        public var rack: String?
    }

    /// The cluster id; nil when the broker does not report one.
    public var clusterId: String?
    /// The id of the controller as the brokers report it (under KRaft, a broker requests are sent to); nil when
    /// unknown.
    public var controller: Int32?
    /// The brokers, by id.
    public var brokers: [Broker]
}
