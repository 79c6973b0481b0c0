import MockBroker
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A raw TCP connection that sends arbitrary bytes and collects what comes back: for feeding a broker bytes no
/// client would send.
///
/// `@unchecked Sendable`: `channel` is a `let` of a Sendable type and the received bytes are behind a lock; the
/// handler callbacks NIO makes run on the channel's event loop.
public final class RawConnection: ChannelInboundHandler, @unchecked Sendable {
    public typealias InboundIn = ByteBuffer
    private let received = NIOLockedValueBox(ByteBuffer())
    public let channel: any Channel

    private init(channel: any Channel) { self.channel = channel }

    /// Connects to `host`:`port`, from `localAddress` when given (say `127.0.0.2`, another loopback address, to
    /// appear as another client IP).
    public static func connect(host: String, port: Int, from localAddress: String? = nil) async throws -> RawConnection {
        let box = NIOLockedValueBox<RawConnection?>(nil)
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = RawConnection(channel: channel)
                    box.withLockedValue { $0 = handler }
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        if let localAddress {
            bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: localAddress, port: 0))
        }
        _ = try await bootstrap.connect(host: host, port: port).get()
        return box.withLockedValue { $0! }
    }

    public static func connect(to broker: MockBroker, from localAddress: String? = nil) async throws -> RawConnection {
        try await connect(host: broker.host, port: broker.port, from: localAddress)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        received.withLockedValue { _ = $0.writeBuffer(&bytes) }
    }

    /// Everything received so far.
    public var bytes: ByteBuffer { received.withLockedValue { $0 } }

    public var isOpen: Bool { channel.isActive }

    public func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    /// Sends without waiting for the write (a write to a connection the broker closed fails quietly).
    public func sendQuietly(_ bytes: [UInt8]) {
        channel.writeAndFlush(ByteBuffer(bytes: bytes), promise: nil)
    }

    public func close() {
        channel.close(promise: nil)
    }

    /// Waits (bounded) for the broker to close the connection; true if it did. On timeout the connection is
    /// closed from this side.
    public func closedByBroker(within timeout: TimeAmount = .seconds(10)) async -> Bool {
        let timedOut = NIOLockedValueBox(false)
        let timer = channel.eventLoop.scheduleTask(in: timeout) {
            timedOut.withLockedValue { $0 = true }
            self.channel.close(promise: nil)
        }
        defer { timer.cancel() }
        try? await channel.closeFuture.get()
        return !timedOut.withLockedValue { $0 }
    }

    /// Waits (bounded) until at least `count` bytes came back; false if they did not, or the connection closed first.
    public func waitForBytes(_ count: Int, within timeout: Duration = .seconds(10)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if bytes.readableBytes >= count { return true }
            if !channel.isActive { return bytes.readableBytes >= count }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return false
    }
}
