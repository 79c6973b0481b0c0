#if canImport(Glibc)
import Glibc
#endif
import KafkaClient
import KafkaProtocol
import KafkaTestSupport
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
        // A socket bound to a port and not listening: connecting is refused, and while it is held no other test's
        // broker can take the port (one stopped broker's port once went to the next broker started in parallel).
        let (socket, port) = try Self.boundNotListening()
        defer { close(socket) }
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

    /// A TCP socket bound to a free port of 127.0.0.1, not listening, and that port.
    private static func boundNotListening() throws -> (Int32, Int) {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(socket >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bind(socket, address, length) == 0 && getsockname(socket, address, &length) == 0
            }
        }
        guard bound else {
            close(socket)
            throw SocketSetupFailed()
        }
        return (socket, Int(UInt16(bigEndian: address.sin_port)))
    }

    private struct SocketSetupFailed: Error {}
}
