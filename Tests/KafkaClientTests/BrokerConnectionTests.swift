@testable import KafkaClient
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

    @Test("send.buffer.bytes and receive.buffer.bytes size the socket's buffers; unset, the kernel sizes them")
    func socketBuffers() async throws {
        try await withBroker { broker in
            var configuration = BrokerConnection.Configuration()
            configuration.sendBufferBytes = 65536
            configuration.receiveBufferBytes = 32768
            let sized = try await BrokerConnection.connect(host: "127.0.0.1", port: broker.port, configuration: configuration)
            let sizes = try await sized.socketBufferSizes()
            // Linux reports twice the size asked for: the other half is its bookkeeping.
            #expect(sizes.send == 2 * 65536)
            #expect(sizes.receive == 2 * 32768)
            await sized.close()
        }
        var client = ClientConfiguration(bootstrapServers: "127.0.0.1:9092")
        #expect(client.connection.sendBufferBytes == nil)
        #expect(client.connection.receiveBufferBytes == nil)
        client.sendBufferBytes = 131072
        client.receiveBufferBytes = 65536
        #expect(client.connection.sendBufferBytes == 131072)
        #expect(client.connection.receiveBufferBytes == 65536)
    }
}
