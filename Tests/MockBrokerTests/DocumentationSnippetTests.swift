import KafkaProtocol
import MockBroker
import Testing

// The code of the MockBroker DocC catalog (MockBroker/Sources/MockBroker/Documentation.docc); see
// `scripts/check-doc-snippets.py`. It runs against an in-process broker.

@Suite("Documentation snippets: MockBroker")
struct MockBrokerDocumentationSnippets {
    @Test func startCreateInjectStop() async throws {
        let broker = try await MockBroker.start()                   // port 0, a temporary data directory
        try broker.createTopic("orders", partitions: 3, configs: ["retention.ms": "-1"])
        // ... point the code under test at broker.bootstrapServers ("127.0.0.1:<port>") ...
        try broker.injectFault(Fault(api: .produce, topic: "orders", action: .error(.notLeaderOrFollower), count: 2))
        let highWatermark = broker.offsets(topic: "orders", partition: 0)?.highWatermark
        try await broker.stop()                                      // closes connections, removes the directory

        #expect(highWatermark == 0)
    }
}
