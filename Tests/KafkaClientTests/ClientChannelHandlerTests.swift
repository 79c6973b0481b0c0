import KafkaProtocol
import NIOCore
import NIOEmbedded
import Testing

@testable import KafkaClient

/// The connection's request bookkeeping, on an embedded channel whose clock the tests move.
@Suite("A connection's requests: answers, timeouts, closing")
struct ClientChannelHandlerTests {
    /// An embedded connection to "broker:9092" and what its requests came to.
    private final class Connection {
        let channel = EmbeddedChannel(handler: ClientChannelHandler(broker: "broker:9092"))
        var outcomes: [Int32: Result<ByteBuffer, any Error>] = [:]

        init() throws {
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9092)).wait()
        }

        func send(_ correlationId: Int32, api: ApiKey = .metadata, timeout: TimeAmount = .seconds(30)) throws {
            let promise = channel.eventLoop.makePromise(of: ByteBuffer.self)
            promise.futureResult.whenComplete { self.outcomes[correlationId] = $0 }
            try channel.writeOutbound(OutboundRequest(chunks: [.buffer(ByteBuffer(bytes: [0, 1, 2]))], correlationId: correlationId,
                                                      response: promise, responseHeaderVersion: 0, api: api, timeout: timeout))
        }

        func answer(_ correlationId: Int32) throws {
            var frame = ByteBuffer()
            frame.writeInteger(correlationId)
            frame.writeInteger(UInt8(42))
            try channel.writeInbound(frame)
        }

        func advance(by amount: TimeAmount) {
            channel.embeddedEventLoop.advanceTime(by: amount)
        }

        func error(of correlationId: Int32) -> KafkaClientError? {
            guard case .failure(let error) = outcomes[correlationId] else { return nil }
            return error as? KafkaClientError
        }

        func answered(_ correlationId: Int32) -> Bool {
            if case .success = outcomes[correlationId] { return true }
            return false
        }
    }

    @Test("a request unanswered within its timeout fails as timed out and closes the connection; the others fail as closed")
    func anUnansweredRequestTimesOut() throws {
        let connection = try Connection()
        try connection.send(1, timeout: .seconds(10))
        connection.advance(by: .seconds(1))
        try connection.send(2, api: .produce, timeout: .seconds(10))
        try connection.send(3, api: .joinGroup, timeout: .seconds(60))
        connection.advance(by: .seconds(4))
        try connection.answer(1)
        connection.advance(by: .milliseconds(5_900))
        #expect(connection.answered(1))
        #expect(connection.outcomes[2] == nil && connection.outcomes[3] == nil)
        #expect(connection.channel.isActive)

        connection.advance(by: .milliseconds(100))
        guard case .requestTimedOut(let api, let broker, let milliseconds) = connection.error(of: 2) else {
            Issue.record("expected requestTimedOut, got \(String(describing: connection.outcomes[2]))")
            return
        }
        #expect(api == .produce && broker == "broker:9092" && milliseconds == 10_000)
        guard case .connectionClosed(let closed) = connection.error(of: 3) else {
            Issue.record("expected connectionClosed, got \(String(describing: connection.outcomes[3]))")
            return
        }
        #expect(closed == "broker:9092")
        #expect(!connection.channel.isActive)
    }

    @Test("answered requests leave the connection open however much time passes")
    func answeredRequestsLeaveNoTimeoutBehind() throws {
        let connection = try Connection()
        for correlationId in Int32(1)...50 {
            try connection.send(correlationId, timeout: .seconds(1))
            connection.advance(by: .milliseconds(100))
            try connection.answer(correlationId)
        }
        connection.advance(by: .hours(1))
        #expect((1...50).allSatisfy { connection.answered($0) })
        #expect(connection.channel.isActive)
    }

    @Test("a shorter timeout written after a longer one still fires at its own deadline")
    func aShorterTimeoutWrittenLaterFiresFirst() throws {
        let connection = try Connection()
        try connection.send(1, api: .joinGroup, timeout: .seconds(300))
        try connection.send(2, api: .heartbeat, timeout: .seconds(3))
        connection.advance(by: .milliseconds(2_999))
        #expect(connection.outcomes.isEmpty)
        connection.advance(by: .milliseconds(1))
        guard case .requestTimedOut(.heartbeat, _, 3_000) = connection.error(of: 2) else {
            Issue.record("expected the heartbeat to time out, got \(String(describing: connection.outcomes[2]))")
            return
        }
        guard case .connectionClosed = connection.error(of: 1) else {
            Issue.record("expected connectionClosed, got \(String(describing: connection.outcomes[1]))")
            return
        }
    }

    @Test("an answer nobody asked for fails every waiting request as malformed, naming the broker, and closes")
    func anUnknownCorrelationIdFailsEveryone() throws {
        let connection = try Connection()
        try connection.send(1, api: .fetch)
        try connection.send(2, api: .produce)
        try connection.answer(7)
        for correlationId: Int32 in [1, 2] {
            guard case .malformedResponse(_, let broker, let reason) = connection.error(of: correlationId) else {
                Issue.record("expected malformedResponse, got \(String(describing: connection.outcomes[correlationId]))")
                continue
            }
            #expect(broker == "broker:9092" && reason.contains("7"))
        }
        #expect(!connection.channel.isActive)
    }
}
