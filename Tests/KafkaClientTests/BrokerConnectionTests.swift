import KafkaClient
import KafkaProtocol
import KafkaTestSupport
import MockBroker
import Testing

/// Opening a connection: an address written as digits is connected to directly, a name is looked up first; either
/// way a broker that is not there is a typed error that says why.
@Suite("Connecting to a broker by address and by name")
struct BrokerConnectionTests {
    @Test("a numeric address and a host name both reach the broker and negotiate versions")
    func addressAndName() async throws {
        try await withBroker { broker in
            for host in ["127.0.0.1", "localhost"] {
                let connection = try await BrokerConnection.connect(host: host, port: broker.port)
                #expect(connection.broker == "\(host):\(broker.port)")
                #expect(connection.brokerVersions[.produce] != nil)
                let metadata = try await connection.send(MetadataRequest(topics: []))
                #expect(metadata.brokers.map(\.port) == [Int32(broker.port)])
                await connection.close()
            }
        }
    }

    @Test("a port nothing listens on fails as connectionFailed, naming the broker and the refusal")
    func refused() async throws {
        let refusing = try #require(PortReservation(port: 0))
        defer { refusing.release() }
        let port = refusing.port
        for host in ["127.0.0.1", "localhost"] {
            do {
                _ = try await BrokerConnection.connect(host: host, port: port)
                Issue.record("connected to \(host):\(port), where nothing listens")
            } catch KafkaClientError.connectionFailed(let broker, let reason) {
                #expect(broker == "\(host):\(port)")
                #expect(reason.contains("Connection refused"), "\(reason)")
            }
        }
    }
}
