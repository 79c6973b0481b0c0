import KafkaClient
import KafkaProtocol
import KafkaTestSupport
import MockBroker
import NIOCore
import Testing

/// A frame-level torture test of an in-process broker: garbage, lying lengths, huge lengths, valid headers with
/// garbage bodies, mutations of a valid request of every API at every version, slowloris connections and
/// connections opened and dropped by the thousand, all at once, while a well-behaved producer and consumer work
/// on another topic and account for every record. Random choices come from a fixed seed (`TORTURE_SEED`
/// overrides it), so a failure reproduces.
@Suite("Hostile clients", .timeLimit(.minutes(2)))
struct HostileClientTests {
    static let seed = SeededGenerator.seed(default: 0x5EED_0F_CAFE)
    static let maxFrameSize = 1 << 20
    static let partialFrameTimeout = Duration.milliseconds(500)

    static func configure(_ configuration: inout MockBrokerConfiguration) {
        configuration.socketRequestMaxBytes = maxFrameSize
        configuration.socketPartialFrameTimeout = TimeAmount.milliseconds(500)
        configuration.connectionsMaxIdle = .seconds(60)
        // Mutated CreateTopics and CreatePartitions may ask for anything; the limit keeps the test quick.
        configuration.maxPartitions = 200
    }

    /// Waits (bounded) until the broker has no connection open; false if it never gets there.
    static func waitUntilNoConnections(_ broker: MockBroker, within limit: Duration = .seconds(30)) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if broker.statistics.connectionsOpen == 0 { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    @Test("each sample request is answered, unmutated, at every version the broker accepts: the mutations start from real requests")
    func samplesAreValid() async throws {
        try await withBroker { broker in
            var unanswered: [String] = []
            // Metadata first (it creates the topic), and a group per version (a JoinGroup would wait for the
            // previous version's member to rejoin).
            let apis = try HostileInput.sampleRequests(topic: "sample", group: "g").map(\.api)
            for (index, api) in apis.enumerated() {
                for version in try HostileInput.sampleRequests(topic: "sample", group: "g")[index].versions {
                    let sample = try HostileInput.sampleRequests(topic: "sample", group: "g-\(version)")[index]
                    let raw = try await RawConnection.connect(to: broker)
                    try await raw.send(try sample.frame(version: version, correlationId: 42))
                    var answer = raw.bytes
                    if await raw.waitForBytes(8), raw.isOpen {
                        answer = raw.bytes
                        if answer.getInteger(at: 4, as: Int32.self) != 42 { unanswered.append("\(api) v\(version): wrong correlation id") }
                    } else {
                        unanswered.append("\(api) v\(version)")
                    }
                    raw.close()
                }
            }
            #expect(unanswered.isEmpty, "not answered: \(unanswered)")
            #expect(broker.statistics.connectionsClosedForBadInput == 0)
        }
    }

    @Test("hostile input of every kind at once; the broker keeps serving and a well-behaved client accounts for every record")
    func everythingAtOnce() async throws {
        try await withBroker(Self.configure) { broker in
            try broker.createTopic("healthy-orders", partitions: 3)
            var random = SeededGenerator(seed: Self.seed)
            var cases: [HostileInput.Case] = []
            for sample in try HostileInput.sampleRequests(topic: "victim", group: "victim-group") {
                for version in sample.versions {
                    let frame = try sample.frame(version: version, correlationId: Int32.random(in: 0...1000, using: &random))
                    for _ in 0..<3 {
                        cases.append(HostileInput.mutation(of: frame, named: "\(sample.api) v\(version)", using: &random))
                    }
                }
            }
            for _ in 0..<200 { cases.append(HostileInput.garbage(maxFrameSize: Self.maxFrameSize, using: &random)) }
            cases.shuffle(using: &random)
            let hostileCases = cases
            let port = broker.port

            let ((hostile, churn), report) = try await WellBehavedClient.run(
                bootstrapServers: broker.bootstrapServers, topic: "healthy-orders", partitions: 3, minimumRecords: 1000
            ) {
                async let mutated = HostileClients.run(hostileCases, port: port, partialFrameTimeout: Self.partialFrameTimeout)
                async let slow = HostileClients.slowloris(count: 20, port: port, partialFrameTimeout: Self.partialFrameTimeout)
                async let churn = ConnectionChurn.openAndDrop(count: 1000, port: port)
                var summary = await mutated
                summary.add(await slow)
                return (summary, await churn)
            }

            #expect(hostile.violations.isEmpty, "seed \(Self.seed): \(hostile.violations.prefix(10))")
            #expect(hostile.connectFailures == 0 && churn.failed == 0, "seed \(Self.seed): \(hostile); \(churn)")
            #expect(report.problems.isEmpty, "seed \(Self.seed): \(report)")
            #expect(report.acknowledged.count >= 1000)
            let statistics = broker.statistics
            #expect(statistics.connectionsClosedForBadInput > 100, "\(statistics)")
            #expect(statistics.connectionsClosedForIncompleteFrame >= 20, "\(statistics)")
            #expect(await Self.waitUntilNoConnections(broker), "connections still open: \(broker.statistics.connectionsOpen)")

            // Still whole: a new client is served, and the records are all there.
            let connection = try await broker.connect()
            let metadata = try await connection.send(MetadataRequest(topics: [.init(name: "healthy-orders")]))
            #expect(metadata.topics.first?.partitions.count == 3)
            var stored = 0
            for partition: Int32 in 0..<3 {
                stored += try await connection.fetchRecords(topic: "healthy-orders", partition: partition).count
            }
            #expect(stored == report.acknowledged.count)
            await connection.close()
        }
    }
}
