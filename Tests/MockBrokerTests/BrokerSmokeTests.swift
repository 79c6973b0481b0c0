import KafkaClient
import KafkaProtocol
import KafkaTestSupport
import MockBroker
import NIOCore
import Testing

@Suite("Mock broker basics")
struct BrokerSmokeTests {
    @Test("starts on port 0, negotiates versions, auto-creates a topic, stores and serves records")
    func produceAndFetch() async throws {
        try await withBroker { broker in
            #expect(broker.port > 0)
            let connection = try await broker.connect()
            defer { Task { await connection.close() } }
            #expect(try connection.version(for: FetchRequest.self) == 17)
            #expect(try connection.version(for: ProduceRequest.self) == 11)

            let metadata = try await connection.send(MetadataRequest(topics: [.init(name: "orders")]))
            #expect(metadata.brokers.map(\.port) == [Int32(broker.port)])
            #expect(metadata.topics.first?.errorCode == 0)
            #expect(metadata.topics.first?.partitions.count == 1)

            let first = try await connection.append([TextRecord(key: "k1", value: "v1"), TextRecord(key: nil, value: "v2")],
                                                     topic: "orders")
            let second = try await connection.append([TextRecord(key: "k3", value: "v3")], topic: "orders")
            #expect((first, second) == (0, 2))

            let records = try await connection.fetchRecords(topic: "orders", count: 3)
            #expect(records.map(\.offset) == [0, 1, 2])
            #expect(records.map(\.keyString) == ["k1", nil, "k3"])
            #expect(records.map(\.valueString) == ["v1", "v2", "v3"])
            await connection.close()
        }
    }
}
