import KafkaProtocol
import NIOCore
import NIOPosix

/// A connection from one broker to another, as Kafka's inter-broker client: requests go out in order and their
/// responses are matched by correlation id. Followers fetch over it from their leaders.
///
/// The mutable state lives in ``BrokerLink/Handler``, on the channel's event loop; the link itself only holds the
/// channel.
final class BrokerLink: Sendable {
    enum LinkError: Error, CustomStringConvertible {
        case closed
        case unexpectedResponse(expected: Int32, got: Int32)

        var description: String {
            switch self {
            case .closed: "the connection to the other broker closed"
            case let .unexpectedResponse(expected, got): "expected the response to \(expected), got \(got)"
            }
        }
    }

    /// Matches response frames to the requests sent, in order; fails what is pending when the channel closes.
    final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer

        private var pending: [(correlationId: Int32, promise: EventLoopPromise<ByteBuffer>)] = []
        private var nextCorrelationId: Int32 = 0
        private var closed = false

        func register(_ promise: EventLoopPromise<ByteBuffer>) -> Int32? {
            guard !closed else { return nil }
            nextCorrelationId &+= 1
            pending.append((nextCorrelationId, promise))
            return nextCorrelationId
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var frame = unwrapInboundIn(data)
            guard !pending.isEmpty, let correlationId = frame.readInteger(as: Int32.self) else {
                context.close(promise: nil)
                return
            }
            let (expected, promise) = pending.removeFirst()
            if correlationId == expected {
                promise.succeed(frame)
            } else {
                promise.fail(LinkError.unexpectedResponse(expected: expected, got: correlationId))
                context.close(promise: nil)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            closed = true
            let failed = pending
            pending.removeAll()
            for (_, promise) in failed { promise.fail(LinkError.closed) }
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    private let channel: any Channel
    private let handler: NIOLoopBound<Handler>
    let clientId: String

    private init(channel: any Channel, handler: NIOLoopBound<Handler>, clientId: String) {
        self.channel = channel
        self.handler = handler
        self.clientId = clientId
    }

    /// Connects to `host:port` within `timeout`.
    static func connect(host: String, port: Int, group: any EventLoopGroup, clientId: String,
                        timeout: TimeAmount = .seconds(2)) async throws -> BrokerLink {
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // A follower's fetch responses run to megabytes: read straight into their buffers.
                    try channel.pipeline.syncOperations.addHandlers(
                        KafkaFrameHandler(maxFrameSize: 256 * 1024 * 1024, receiveSlot: FrameReceiveSlot.installed(on: channel)),
                        Handler()
                    )
                }
            }
            .connect(host: host, port: port)
            .get()
        let handler = try await channel.eventLoop.submit {
            NIOLoopBound(try channel.pipeline.syncOperations.handler(type: Handler.self), eventLoop: channel.eventLoop)
        }.get()
        return BrokerLink(channel: channel, handler: handler, clientId: clientId)
    }

    /// Sends `request` at `version` and decodes its response; fails when the link closes first or after
    /// `timeout`.
    func send<Request: KafkaRequest>(_ request: Request, version: Int16, timeout: TimeAmount) async throws -> Request.Response {
        let eventLoop = channel.eventLoop
        let promise = eventLoop.makePromise(of: ByteBuffer.self)
        let clientId = self.clientId
        let channel = self.channel
        let handler = self.handler
        eventLoop.execute {
            guard let correlationId = handler.value.register(promise) else {
                promise.fail(LinkError.closed)
                return
            }
            var writer = WireWriter()
            do {
                try KafkaFrame.writeRequest(request, version: version, correlationId: correlationId, clientId: clientId,
                                            into: &writer)
            } catch {
                promise.fail(error)
                channel.close(promise: nil)
                return
            }
            channel.writeAndFlush(writer.finishContiguous(), promise: nil)
        }
        // Closing fails the pending request (through the handler, which completes every promise once).
        let timer = eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        defer { timer.cancel() }
        var frame = try await promise.futureResult.get()
        // The correlation id is read; the rest of the header holds only tagged fields, from header v1.
        if KafkaFrame.responseHeaderVersion(apiKey: Request.apiKey, version: version) >= 1 {
            var tagged: [TaggedField] = []
            try frame.readKafkaTaggedFields(unknown: &tagged)
        }
        return try Request.Response(from: &frame, version: version)
    }

    func close() {
        channel.close(promise: nil)
    }
}
