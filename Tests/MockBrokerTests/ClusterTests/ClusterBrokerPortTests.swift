import KafkaProtocol
import KafkaTestSupport
import MockBroker
import NIOCore
import NIOPosix
import Testing

extension ClusterTests {
    /// A stopped or killed broker keeps its port while it is down: connecting is refused, as with a real broker that
    /// is down, and no other listener is given the port to answer in its place (tests run beside each other).
    @Suite("Cluster: a stopped broker's port", .serialized)
    struct ClusterBrokerPortTests {
        @Test("a killed or stopped broker's port refuses connections and cannot be bound by another listener; the broker starts there again")
        func portIsHeldWhileDown() async throws {
            // One broker, and no client connected before the kill: no connection is left in TIME_WAIT on the port,
            // so only the cluster's hold on it can keep another listener from binding it.
            try await withCluster(brokers: 1) { cluster in
                let port = try #require(cluster.broker(0)).port
                for stop in [{ try await cluster.killBroker(0) }, { try await cluster.stopBroker(0) }] {
                    try await stop()
                    await #expect(throws: (any Error).self, "connecting to a broker that is down") {
                        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                            .connect(host: "127.0.0.1", port: port).get().close()
                    }
                    await #expect(throws: (any Error).self, "another listener binding the down broker's port") {
                        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                            .bind(host: "127.0.0.1", port: port).get().close()
                    }

                    try await cluster.startBroker(0)
                    let broker = try #require(cluster.broker(0))
                    #expect(broker.port == port)
                    let connection = try await broker.connect()
                    let metadata = try await connection.send(MetadataRequest(topics: []))
                    await connection.close()
                    #expect(metadata.brokers.map(\.port) == [Int32(port)])
                }
            }
        }
    }
}
