import KafkaClient
import KafkaProtocol
import KafkaTestSupport
import MockBroker
import NIOCore
import Testing

@testable import MockBroker

/// The broker's bounds on connections: `connections.max.idle.ms`, the partial-frame timeout (a slowloris guard),
/// `max.connections`, `max.connections.per.ip`, and many connections opened and dropped.
@Suite("Connection limits", .timeLimit(.minutes(2)))
struct ConnectionLimitTests {
    /// An ApiVersions v3 request frame.
    static func apiVersionsFrame(correlationId: Int32 = 7) throws -> [UInt8] {
        try #require(try HostileInput.sampleRequests(topic: "t", group: "g").first { $0.api == .apiVersions })
            .frame(version: 3, correlationId: correlationId)
    }

    /// Waits (bounded) until the broker counts `count` open connections; false if it never does.
    static func waitForOpenConnections(_ broker: MockBroker, _ count: Int64, within limit: Duration = .seconds(10)) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if broker.statistics.connectionsOpen == count { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return broker.statistics.connectionsOpen == count
    }

    @Test("the defaults: loopback only, Kafka's request size and idle timeout, bounded connections and partitions")
    func defaults() {
        let configuration = MockBrokerConfiguration()
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.socketRequestMaxBytes == 104_857_600)
        #expect(configuration.connectionsMaxIdle == .milliseconds(600_000))
        #expect(configuration.maxConnections == 1000)
        #expect(configuration.maxConnectionsPerIp == 1000)
        #expect(configuration.socketPartialFrameTimeout == .seconds(30))
        #expect(configuration.maxPartitions == 2000)
    }

    @Test("a connection without requests for connections.max.idle.ms is closed; one waiting for its answer is not")
    func idleConnectionsAreClosed() async throws {
        // 2 s: long enough that a loaded machine gets the long poll out after connecting before it counts as idle.
        try await withBroker({ $0.connectionsMaxIdle = .seconds(2) }) { broker in
            try broker.createTopic("quiet")
            let idle = try await RawConnection.connect(to: broker)
            #expect(await idle.closedByBroker(), "the idle connection was not closed")
            #expect(broker.statistics.connectionsClosedIdle == 1)

            // A long poll of 6 s on an empty partition, sent as soon as the connection is up: three idle
            // timeouts pass while the request is in progress.
            var writer = WireWriter()
            let fetch = FetchRequest(maxWaitMs: 6000, minBytes: 1, maxBytes: 1 << 20, topics: [
                .init(topic: "quiet", partitions: [.init(partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20)]),
            ])
            try KafkaFrame.writeRequest(fetch, version: 12, correlationId: 5, clientId: "busy", into: &writer)
            var frame = writer.finishContiguous()
            let busy = try await RawConnection.connect(to: broker)
            let before = ContinuousClock.now
            try await busy.send(frame.readBytes(length: frame.readableBytes)!)
            // An idle close in the middle of the request would have left it without an answer.
            #expect(await busy.waitForBytes(8), "no answer to the long poll")
            #expect(busy.bytes.getInteger(at: 4, as: Int32.self) == 5)
            #expect(ContinuousClock.now - before >= .milliseconds(5900), "the fetch did not wait: the test proves nothing")
            busy.close()
        }
    }

    @Test("a request frame left unfinished, stalled or trickling a byte at a time, is closed after the partial-frame timeout")
    func unfinishedFramesAreClosed() async throws {
        try await withBroker({
            $0.socketPartialFrameTimeout = .milliseconds(300)
            $0.connectionsMaxIdle = nil
        }) { broker in
            let healthy = try await broker.connect()
            let stalled = try await RawConnection.connect(to: broker)
            try await stalled.send(HostileInput.sizePrefix(100) + [0, 3, 0])
            #expect(await stalled.closedByBroker(), "the stalled frame's connection was not closed")

            // Bytes keep coming (so it is never idle), but the frame never ends.
            let trickling = await HostileClients.slowloris(count: 3, port: broker.port, interval: .milliseconds(30),
                                                           partialFrameTimeout: .milliseconds(300))
            #expect(trickling.violations.isEmpty, "\(trickling.violations)")
            #expect(trickling.closedByBroker == 3)
            #expect(broker.statistics.connectionsClosedForIncompleteFrame == 4)
            #expect(broker.statistics.connectionsClosedForBadInput == 0)

            let metadata = try await healthy.send(MetadataRequest(topics: [.init(name: "still-serving")]))
            #expect(metadata.topics.first?.errorCode == 0)
            await healthy.close()
        }
    }

    @Test("a frame that arrives in pieces within the partial-frame timeout is served")
    func framesInPiecesAreServed() async throws {
        try await withBroker({ $0.socketPartialFrameTimeout = .seconds(20) }) { broker in
            let raw = try await RawConnection.connect(to: broker)
            let frame = try Self.apiVersionsFrame()
            for piece in [frame[..<3], frame[3..<9], frame[9...]] {
                try await raw.send(Array(piece))
                try await Task.sleep(for: .milliseconds(30))
            }
            #expect(await raw.waitForBytes(8), "no answer to a frame sent in three pieces")
            #expect(raw.isOpen)
            #expect(broker.statistics.connectionsClosedForIncompleteFrame == 0)
            raw.close()
        }
    }

    @Test("connection max.connections + 1 is closed at once; the clients connected before keep working; a freed slot is reused")
    func maxConnections() async throws {
        try await withBroker({
            $0.maxConnections = 8
            $0.maxConnectionsPerIp = 8
        }) { broker in
            let healthy = try await broker.connect()
            var raw: [RawConnection] = []
            for _ in 0..<7 { raw.append(try await RawConnection.connect(to: broker)) }
            #expect(await Self.waitForOpenConnections(broker, 8))

            let extra = try await RawConnection.connect(to: broker)
            #expect(await extra.closedByBroker(), "connection 9 of 8 was not closed")
            #expect(broker.statistics.connectionsRefused == 1)
            let metadata = try await healthy.send(MetadataRequest(topics: [.init(name: "still-serving")]))
            #expect(metadata.topics.first?.errorCode == 0)

            raw.removeFirst().close()
            #expect(await Self.waitForOpenConnections(broker, 7))
            let next = try await RawConnection.connect(to: broker)
            try await next.send(Self.apiVersionsFrame())
            #expect(await next.waitForBytes(8), "a connection in a freed slot was not served")
            #expect(broker.statistics.connectionsRefused == 1)
            for connection in raw + [next] { connection.close() }
            await healthy.close()
        }
    }

    @Test("max.connections.per.ip counts each client address on its own")
    func maxConnectionsPerIp() async throws {
        try await withBroker({ $0.maxConnectionsPerIp = 3 }) { broker in
            let healthy = try await broker.connect()
            let raw = [try await RawConnection.connect(to: broker), try await RawConnection.connect(to: broker)]
            #expect(await Self.waitForOpenConnections(broker, 3))

            let fourth = try await RawConnection.connect(to: broker)
            #expect(await fourth.closedByBroker(), "a fourth connection from 127.0.0.1 was not closed")
            #expect(broker.statistics.connectionsRefused == 1)

            // Another loopback address is another client.
            let elsewhere = try await RawConnection.connect(to: broker, from: "127.0.0.2")
            try await elsewhere.send(Self.apiVersionsFrame())
            #expect(await elsewhere.waitForBytes(8), "a connection from 127.0.0.2 was not served")
            #expect(broker.statistics.connectionsRefused == 1)

            let metadata = try await healthy.send(MetadataRequest(topics: [.init(name: "still-serving")]))
            #expect(metadata.topics.first?.errorCode == 0)
            for connection in raw + [elsewhere] { connection.close() }
            await healthy.close()
        }
    }

    @Test("3,000 connections opened and dropped (closed, reset, or mid-frame) leave nothing open behind")
    func connectionChurn() async throws {
        try await withBroker { broker in
            let healthy = try await broker.connect()
            #expect(await Self.waitForOpenConnections(broker, 1))
            let outcome = await ConnectionChurn.openAndDrop(count: 3000, port: broker.port)
            #expect(outcome.connected == 3000, "\(outcome)")
            #expect(await Self.waitForOpenConnections(broker, 1, within: .seconds(30)),
                    "open connections after the churn: \(broker.statistics.connectionsOpen)")
            #expect(broker.statistics.connectionsRefused == 0)
            let metadata = try await healthy.send(MetadataRequest(topics: [.init(name: "still-serving")]))
            #expect(metadata.topics.first?.errorCode == 0)
            await healthy.close()
        }
    }
}

/// The timing rules of ``ConnectionDeadlines`` on a synthetic clock.
@Suite("Connection deadlines")
struct ConnectionDeadlineTests {
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    static func at(_ milliseconds: Int64) -> NIODeadline { start + .milliseconds(milliseconds) }

    @Test("idle counts only while no request is queued, handled or arriving")
    func idle() {
        var deadlines = ConnectionDeadlines(idleTimeout: .milliseconds(100), partialFrameTimeout: .milliseconds(50), now: Self.start)
        #expect(deadlines.expiry(now: Self.at(99), busy: false) == nil)
        #expect(deadlines.expiry(now: Self.at(100), busy: false) == .idle(.milliseconds(100)))
        #expect(deadlines.expiry(now: Self.at(500), busy: true) == nil)
        deadlines.activity(at: Self.at(500))
        #expect(deadlines.expiry(now: Self.at(599), busy: false) == nil)
        #expect(deadlines.nextCheck(now: Self.at(510)) == Self.at(600))
    }

    @Test("a partial frame's clock runs only while the broker reads, and restarts when it resumes")
    func partialFrame() {
        var deadlines = ConnectionDeadlines(idleTimeout: nil, partialFrameTimeout: .milliseconds(50), now: Self.start)
        #expect(deadlines.nextCheck(now: Self.start) == nil)
        deadlines.partialFrameStarted(at: Self.at(10))
        #expect(deadlines.nextCheck(now: Self.at(10)) == Self.at(60))
        #expect(deadlines.expiry(now: Self.at(59), busy: false) == nil)
        #expect(deadlines.expiry(now: Self.at(60), busy: true) == .incompleteFrame(.milliseconds(50)))

        deadlines.readsHeld(true, at: Self.at(20))
        #expect(deadlines.expiry(now: Self.at(1000), busy: true) == nil)
        deadlines.readsHeld(false, at: Self.at(1000))
        #expect(deadlines.expiry(now: Self.at(1049), busy: true) == nil)
        #expect(deadlines.expiry(now: Self.at(1050), busy: true) == .incompleteFrame(.milliseconds(50)))

        deadlines.partialFrameEnded(at: Self.at(1060))
        #expect(deadlines.expiry(now: Self.at(9999), busy: false) == nil)
    }

    @Test("a partial frame is not idleness: the idle clock restarts when it completes")
    func partialFrameIsNotIdle() {
        var deadlines = ConnectionDeadlines(idleTimeout: .milliseconds(100), partialFrameTimeout: nil, now: Self.start)
        deadlines.partialFrameStarted(at: Self.at(50))
        #expect(deadlines.expiry(now: Self.at(5000), busy: false) == nil)
        deadlines.partialFrameEnded(at: Self.at(5000))
        #expect(deadlines.expiry(now: Self.at(5099), busy: false) == nil)
        #expect(deadlines.expiry(now: Self.at(5100), busy: false) == .idle(.milliseconds(100)))
    }
}
