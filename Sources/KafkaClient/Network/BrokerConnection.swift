import KafkaProtocol
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// One TCP connection to one broker. On connect it negotiates versions with ApiVersions; afterwards each
/// request goes out at the highest version both sides speak, requests may be pipelined, and responses are
/// matched to them by correlation id.
public final class BrokerConnection: Sendable {
    /// How a connection identifies itself and how long it waits.
    public struct Configuration: Sendable {
        /// `client.id`, sent in every request header.
        public var clientId: String? = "swift-kafka"
        /// `request.timeout.ms`: how long to wait for a response before closing the connection. Default 30 s.
        public var requestTimeout: TimeAmount = .seconds(30)
        /// `socket.connection.setup.timeout.ms`. Default 10 s.
        public var connectTimeout: TimeAmount = .seconds(10)
        /// Responses larger than this close the connection (a broker's `fetch.max.bytes` is 50 MiB by default).
        public var maxResponseBytes = 512 * 1024 * 1024
        /// `SO_SNDBUF` for the socket; nil (the default) keeps the kernel's automatic sizing.
        public var sendBufferBytes: Int?
        /// `SO_RCVBUF` for the socket; nil (the default) keeps the kernel's automatic sizing.
        public var receiveBufferBytes: Int?
        /// Reported in ApiVersions v3+ (KIP-511).
        public var softwareName = "swift-kafka"
        /// Reported in ApiVersions v3+ (KIP-511).
        public var softwareVersion = "0.1.0"

        /// The defaults.
        public init() {}
    }

    /// `host:port` of the broker.
    public let broker: String
    /// The settings it was opened with.
    public let configuration: Configuration
    /// The version ranges the broker offered, by API key.
    public let brokerVersions: [ApiKey: ClosedRange<Int16>]
    private let channel: any Channel
    private let correlation = NIOLockedValueBox<Int32>(0)

    private init(broker: String, configuration: Configuration, channel: any Channel, brokerVersions: [ApiKey: ClosedRange<Int16>]) {
        self.broker = broker
        self.configuration = configuration
        self.channel = channel
        self.brokerVersions = brokerVersions
    }

    /// Connects and negotiates versions.
    public static func connect(
        host: String, port: Int, configuration: Configuration = Configuration(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> BrokerConnection {
        let broker = "\(host):\(port)"
        let maxResponse = configuration.maxResponseBytes
        let channel: any Channel
        do {
            // Buffer sizes are set before connecting: the receive buffer decides the window scale the SYN offers.
            var bootstrap = ClientBootstrap(group: eventLoopGroup)
            if let bytes = configuration.sendBufferBytes {
                bootstrap = bootstrap.channelOption(.socketOption(.so_sndbuf), value: bytes)
            }
            if let bytes = configuration.receiveBufferBytes {
                bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: bytes)
            }
            bootstrap = bootstrap
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connectTimeout(configuration.connectTimeout)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        // Fetch responses run to megabytes: reads grow up to 1 MiB (NIO's default stops at 64 KiB),
                        // and the rest of a response spread over reads is read straight into its buffer.
                        let slot = FrameReceiveSlot.installed(on: channel)
                        try channel.pipeline.syncOperations.addHandlers(
                            KafkaFrameHandler(maxFrameSize: maxResponse, receiveSlot: slot),
                            ClientChannelHandler(broker: broker)
                        )
                    }
                }
            // An address given as digits needs no lookup: connecting to it directly spares the resolver's thread
            // and Happy Eyeballs' timers, a few hundred microseconds of every connection a client opens.
            if let address = try? SocketAddress(ipAddress: host, port: port) {
                channel = try await bootstrap.connect(to: address).get()
            } else {
                channel = try await bootstrap.connect(host: host, port: port).get()
            }
        } catch {
            throw KafkaClientError.connectionFailed(broker: broker, reason: Self.reason(error))
        }
        let unnegotiated = BrokerConnection(broker: broker, configuration: configuration, channel: channel, brokerVersions: [:])
        do {
            let versions = try await unnegotiated.negotiateVersions()
            return BrokerConnection(broker: broker, configuration: configuration, channel: channel, brokerVersions: versions)
        } catch {
            try? await channel.close()
            throw error
        }
    }

    /// What went wrong connecting, in words: "Connection refused" rather than NIO's nested error values.
    private static func reason(_ error: any Error) -> String {
        func describe(_ error: any Error) -> String {
            if let io = error as? IOError { return String(cString: strerror(io.errnoCode)) }
            return "\(error)"
        }
        if let connection = error as? NIOConnectionError {
            var reasons: [String] = []
            if let dns = connection.dnsAError ?? connection.dnsAAAAError { reasons.append("address lookup: \(describe(dns))") }
            for failure in connection.connectionErrors where !reasons.contains(describe(failure.error)) {
                reasons.append(describe(failure.error))
            }
            return reasons.isEmpty ? "no address to connect to" : reasons.joined(separator: "; ")
        }
        if error is ChannelError, case .connectTimeout(let timeout) = error as! ChannelError {
            return "no connection within \(timeout.nanoseconds / 1_000_000) ms (socket.connection.setup.timeout.ms)"
        }
        return describe(error)
    }

    /// ApiVersions at our newest version; a broker that does not know it answers UNSUPPORTED_VERSION with its
    /// own range (KIP-511), and we retry at the newest version both know.
    private func negotiateVersions() async throws -> [ApiKey: ClosedRange<Int16>] {
        var version = ApiVersionsRequest.versions.upperBound
        for _ in 0..<2 {
            let request = ApiVersionsRequest(clientSoftwareName: configuration.softwareName,
                                             clientSoftwareVersion: configuration.softwareVersion)
            let response = try await send(request, version: version)
            let ranges = Dictionary(response.apiKeys.map { (ApiKey(rawValue: $0.apiKey), $0.minVersion...max($0.minVersion, $0.maxVersion)) },
                                    uniquingKeysWith: { first, _ in first })
            if response.errorCode == KafkaErrorCode.unsupportedVersion.rawValue,
               let offered = ranges[.apiVersions], let common = common(ApiVersionsRequest.versions, offered) {
                version = common.upperBound
                continue
            }
            guard response.errorCode == 0 else {
                throw KafkaClientError.broker(KafkaErrorCode(rawValue: response.errorCode), context: "ApiVersions from \(broker)")
            }
            return ranges
        }
        throw KafkaClientError.unsupportedVersion(api: .apiVersions, broker: broker, brokerVersions: nil)
    }

    private func common(_ ours: ClosedRange<Int16>, _ theirs: ClosedRange<Int16>) -> ClosedRange<Int16>? {
        let low = max(ours.lowerBound, theirs.lowerBound)
        let high = min(ours.upperBound, theirs.upperBound)
        return low <= high ? low...high : nil
    }

    /// The event loop the connection runs on.
    public var eventLoop: any EventLoop { channel.eventLoop }

    /// The version a request of type `Request` goes out at: the highest both sides speak.
    public func version<Request: KafkaRequest>(for _: Request.Type) throws -> Int16 {
        guard let theirs = brokerVersions[Request.apiKey], let shared = common(Request.versions, theirs) else {
            throw KafkaClientError.unsupportedVersion(api: Request.apiKey, broker: broker, brokerVersions: brokerVersions[Request.apiKey])
        }
        return shared.upperBound
    }

    /// Sends a request and waits for its response. `version` overrides the negotiated one, `timeout` the
    /// connection's request timeout (for requests a broker may hold longer, like JoinGroup).
    public func send<Request: KafkaRequest>(_ request: Request, version: Int16? = nil, timeout: TimeAmount? = nil) async throws -> Request.Response {
        try await sendRequest(request, version: version, timeout: timeout).get()
    }

    /// Sends a request; the future completes with its response (on the connection's event loop), or fails with a
    /// ``KafkaClientError``.
    ///
    /// - Parameter flush: false leaves the request queued on the connection until ``flush()``, so that several
    ///   requests written together go out in one system call (and wake the broker once).
    public func sendRequest<Request: KafkaRequest>(_ request: Request, version requested: Int16? = nil,
                                                   timeout requestedTimeout: TimeAmount? = nil,
                                                   flush: Bool = true) -> EventLoopFuture<Request.Response> {
        let eventLoop = channel.eventLoop
        let version: Int16
        do {
            version = try requested ?? self.version(for: Request.self)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        let body = eventLoop.makePromise(of: ByteBuffer.self)
        let broker = self.broker
        // The connection's handler fails `body` with a KafkaClientError naming the broker: timed out, closed, or
        // malformed. A write that cannot reach it (the connection closed first) fails it here.
        let written = eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { error in
            body.fail(error as? KafkaClientError ?? KafkaClientError.connectionClosed(broker: broker))
        }
        write(request, version: version, response: body, timeout: requestedTimeout ?? configuration.requestTimeout,
              flush: flush, written: written)
        return body.futureResult.flatMapThrowing { body in
            var body = body
            // An ApiVersions error answer is always a v0 body.
            let bodyVersion = Request.apiKey == .apiVersions && body.getInteger(at: body.readerIndex, as: Int16.self) != 0 ? 0 : version
            do {
                return try Request.Response(from: &body, version: bodyVersion)
            } catch {
                throw KafkaClientError.malformedResponse(api: Request.apiKey, broker: broker, reason: "\(error)")
            }
        }
    }

    /// Sends a request that gets no response (a Produce with acks=0); returns once it is written.
    public func sendWithoutResponse<Request: KafkaRequest>(_ request: Request, version: Int16? = nil) async throws {
        try await sendRequestWithoutResponse(request, version: version).get()
    }

    /// Sends a request that gets no response; the future completes when it is written.
    ///
    /// - Parameter flush: false leaves the request queued on the connection until ``flush()``.
    public func sendRequestWithoutResponse<Request: KafkaRequest>(_ request: Request, version: Int16? = nil,
                                                                  flush: Bool = true) -> EventLoopFuture<Void> {
        let written = channel.eventLoop.makePromise(of: Void.self)
        do {
            write(request, version: try version ?? self.version(for: Request.self), response: nil,
                  timeout: configuration.requestTimeout, flush: flush, written: written)
        } catch {
            written.fail(error)
        }
        let broker = self.broker
        return written.futureResult.flatMapErrorThrowing { error in
            throw error as? KafkaClientError ?? KafkaClientError.connectionClosed(broker: broker)
        }
    }

    /// Writes out the requests sent with `flush: false`.
    public func flush() {
        channel.flush()
    }

    /// Encodes and writes `request`; `written` completes when it is written, or fails (with
    /// ``KafkaClientError/requestNotEncodable(api:version:reason:)`` when it cannot be encoded).
    private func write<Request: KafkaRequest>(_ request: Request, version: Int16, response: EventLoopPromise<ByteBuffer>?,
                                              timeout: TimeAmount, flush: Bool, written: EventLoopPromise<Void>) {
        let correlationId = correlation.withLockedValue { value in
            value = value == Int32.max ? 0 : value + 1
            return value
        }
        var writer = WireWriter(allocator: channel.allocator)
        do {
            try KafkaFrame.writeRequest(request, version: version, correlationId: correlationId,
                                        clientId: configuration.clientId, into: &writer)
        } catch {
            written.fail(KafkaClientError.requestNotEncodable(api: Request.apiKey, version: version, reason: "\(error)"))
            return
        }
        let outbound = OutboundRequest(chunks: writer.finish(), correlationId: correlationId, response: response,
                                       responseHeaderVersion: Request.responseHeaderVersion(for: version),
                                       api: Request.apiKey, timeout: timeout)
        if flush {
            channel.writeAndFlush(outbound, promise: written)
        } else {
            channel.write(outbound, promise: written)
        }
    }

    /// Whether the connection is still open.
    public var isActive: Bool { channel.isActive }

    /// The socket's `SO_SNDBUF` and `SO_RCVBUF` as the kernel reports them (Linux doubles what was asked for, to
    /// leave room for its bookkeeping).
    func socketBufferSizes() async throws -> (send: Int, receive: Int) {
        let send = try await channel.getOption(.socketOption(.so_sndbuf)).get()
        let receive = try await channel.getOption(.socketOption(.so_rcvbuf)).get()
        return (send, receive)
    }

    /// Closes the connection; requests still waiting fail with ``KafkaClientError/connectionClosed(broker:)``.
    public func close() async {
        try? await channel.close()
    }

    /// A future that completes when the connection closes (for either side's reason).
    public var closeFuture: EventLoopFuture<Void> { channel.closeFuture }
}
