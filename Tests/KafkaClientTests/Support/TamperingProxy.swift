import KafkaProtocol
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A loopback TCP proxy in front of a broker that spoils chosen responses on their way to the client: flipped
/// record bytes, truncated batches, wrong correlation ids, impossible lengths, decompression bombs. It speaks just
/// enough of the protocol to find its way: requests tell it which API each correlation id belongs to, and Metadata
/// answers are rewritten to name the proxy instead of the broker, so the client keeps coming through it.
final class TamperingProxy: Sendable {
    /// What to do to the next Fetch (or Produce) responses that carry what the fault needs.
    enum Fault: Sendable {
        /// Flips one byte inside the first record batch's records (its CRC no longer matches).
        case flipRecordByte
        /// Cuts the records in the middle of the first batch, so no whole batch is left.
        case truncateFirstBatch
        /// Answers with a correlation id the client never used.
        case wrongCorrelationId
        /// Claims a frame of 2 GiB.
        case hugeFrameLength
        /// Replaces the records with this batch (a decompression bomb, say).
        case replaceRecords(ByteBuffer)
        /// Answers (any fetch, records or not) that the client's log diverges from the leader's at `endOffset`
        /// (KIP-320's `DivergingEpoch`), without records.
        case divergingEpoch(epoch: Int32, endOffset: Int64)
    }

    let port: Int
    private let server: any Channel
    private let state: NIOLockedValueBox<State>

    struct State {
        var fault: Fault?
        var remaining = 0
        /// Which APIs get the fault.
        var apis: Set<ApiKey> = [.fetch]
        var connectionsAccepted = 0
        var faultsApplied = 0
        var fetchResponses = 0
    }

    private init(port: Int, server: any Channel, state: NIOLockedValueBox<State>) {
        self.port = port
        self.server = server
        self.state = state
    }

    /// Starts a proxy on 127.0.0.1 in front of `upstreamHost`:`upstreamPort`.
    static func start(upstreamHost: String, upstreamPort: Int) async throws -> TamperingProxy {
        let state = NIOLockedValueBox(State())
        let portBox = NIOLockedValueBox(0)
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { client in
                state.withLockedValue { $0.connectionsAccepted += 1 }
                let pairing = Pairing(state: state, proxyPort: { portBox.withLockedValue { $0 } })
                return ClientBootstrap(group: client.eventLoop)
                    .channelInitializer { upstream in
                        upstream.eventLoop.makeCompletedFuture {
                            try upstream.pipeline.syncOperations.addHandlers(
                                KafkaFrameHandler(maxFrameSize: 512 << 20),
                                ResponseHandler(pairing: pairing, client: client))
                        }
                    }
                    .connect(host: upstreamHost, port: upstreamPort)
                    .flatMapThrowing { upstream in
                        // The upstream connection was made on the client's event loop: this runs there.
                        try client.pipeline.syncOperations.addHandlers(
                            KafkaFrameHandler(maxFrameSize: 512 << 20),
                            RequestHandler(pairing: pairing, upstream: upstream))
                    }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = server.localAddress?.port ?? 0
        portBox.withLockedValue { $0 = port }
        return TamperingProxy(port: port, server: server, state: state)
    }

    var bootstrapServers: String { "127.0.0.1:\(port)" }

    /// Spoils the next `count` responses of `apis` that the fault applies to.
    func inject(_ fault: Fault, count: Int = 1, apis: Set<ApiKey> = [.fetch]) {
        state.withLockedValue { state in
            state.fault = fault
            state.remaining = count
            state.apis = apis
        }
    }

    var statistics: State { state.withLockedValue { $0 } }

    func stop() async {
        try? await server.close()
    }

    // MARK: - Connections

    /// What one client connection and its upstream connection share: the API of each correlation id.
    private final class Pairing: @unchecked Sendable {
        // @unchecked: both handlers of a pair run on the client channel's event loop (the upstream connection is
        // made on it), so `requests` is touched from that one thread only.
        let state: NIOLockedValueBox<State>
        let proxyPort: @Sendable () -> Int
        var requests: [Int32: (api: ApiKey, version: Int16)] = [:]

        init(state: NIOLockedValueBox<State>, proxyPort: @escaping @Sendable () -> Int) {
            self.state = state
            self.proxyPort = proxyPort
        }
    }

    /// Client to broker: notes each request's API, passes the frame on unchanged.
    private final class RequestHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let pairing: Pairing
        let upstream: any Channel

        init(pairing: Pairing, upstream: any Channel) {
            self.pairing = pairing
            self.upstream = upstream
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            if let api = frame.getInteger(at: frame.readerIndex, as: Int16.self),
               let version = frame.getInteger(at: frame.readerIndex + 2, as: Int16.self),
               let correlationId = frame.getInteger(at: frame.readerIndex + 4, as: Int32.self) {
                pairing.requests[correlationId] = (ApiKey(rawValue: api), version)
            }
            var out = context.channel.allocator.buffer(capacity: frame.readableBytes + 4)
            out.writeInteger(Int32(frame.readableBytes))
            out.writeImmutableBuffer(frame)
            upstream.writeAndFlush(out, promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            upstream.close(promise: nil)
        }
    }

    /// Broker to client: rewrites Metadata to name the proxy, and spoils what the fault says.
    private final class ResponseHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let pairing: Pairing
        let client: any Channel

        init(pairing: Pairing, client: any Channel) {
            self.pairing = pairing
            self.client = client
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            guard let correlationId = frame.getInteger(at: frame.readerIndex, as: Int32.self),
                  let (api, version) = pairing.requests.removeValue(forKey: correlationId) else {
                client.writeAndFlush(Self.prefixed(frame), promise: nil)
                return
            }
            let headerVersion = KafkaFrame.responseHeaderVersion(apiKey: api, version: version)
            var body = frame
            // Every branch gives the whole frame to send, size prefix included.
            var outgoing = Self.prefixed(frame)
            do {
                _ = try ResponseHeader(from: &body, version: headerVersion)
                switch api {
                case .metadata:
                    var response = try MetadataResponse(from: &body, version: version)
                    for index in response.brokers.indices {
                        response.brokers[index].host = "127.0.0.1"
                        response.brokers[index].port = Int32(pairing.proxyPort())
                    }
                    outgoing = try Self.encode(response, version: version, correlationId: correlationId)
                case .findCoordinator:
                    var response = try FindCoordinatorResponse(from: &body, version: version)
                    response.host = "127.0.0.1"
                    response.port = Int32(pairing.proxyPort())
                    for index in response.coordinators.indices {
                        response.coordinators[index].host = "127.0.0.1"
                        response.coordinators[index].port = Int32(pairing.proxyPort())
                    }
                    outgoing = try Self.encode(response, version: version, correlationId: correlationId)
                case .fetch:
                    let response = try FetchResponse(from: &body, version: version)
                    pairing.state.withLockedValue { $0.fetchResponses += 1 }
                    if let spoiled = try spoil(response, api: api, version: version, correlationId: correlationId) {
                        outgoing = spoiled
                    }
                case .produce:
                    if let spoiled = spoilProduce(frame, api: api) { outgoing = spoiled }
                default:
                    break
                }
            } catch {
                // Not ours to judge: the answer goes on as it came.
            }
            client.writeAndFlush(outgoing, promise: nil)
        }

        /// The fault to apply to a response of `api` that has what it needs, counted.
        private func takeFault(api: ApiKey, applicable: Bool) -> Fault? {
            pairing.state.withLockedValue { state in
                guard applicable, let fault = state.fault, state.remaining > 0, state.apis.contains(api) else { return nil }
                state.remaining -= 1
                state.faultsApplied += 1
                return fault
            }
        }

        private func spoil(_ response: FetchResponse, api: ApiKey, version: Int16, correlationId: Int32) throws -> ByteBuffer? {
            if case .divergingEpoch(let epoch, let endOffset)? = pairing.state.withLockedValue({ $0.remaining > 0 ? $0.fault : nil }),
               !response.responses.isEmpty, !response.responses[0].partitions.isEmpty,
               takeFault(api: api, applicable: true) != nil {
                var response = response
                response.responses[0].partitions[0].records = RecordSet()
                response.responses[0].partitions[0].divergingEpoch = .init(epoch: epoch, endOffset: endOffset)
                return try Self.encode(response, version: version, correlationId: correlationId)
            }
            // Only a response that carries records is spoiled (an empty long-poll answer has nothing to corrupt).
            guard let (topicIndex, partitionIndex, records) = firstRecords(response) else { return nil }
            guard let fault = takeFault(api: api, applicable: true) else { return nil }
            var response = response
            var spoiled = records
            switch fault {
            case .flipRecordByte:
                // Past the 61-byte batch header: a record's bytes, covered by the CRC.
                let at = spoiled.readerIndex + RecordBatchLayout.headerSize + 2
                spoiled.setInteger(spoiled.getInteger(at: at, as: UInt8.self)! ^ 0x5A, at: at)
            case .truncateFirstBatch:
                let length = Int(records.getInteger(at: records.readerIndex + RecordBatchLayout.batchLength, as: Int32.self)!)
                spoiled = records.getSlice(at: records.readerIndex, length: min(RecordBatchLayout.logOverhead + length / 2, records.readableBytes - 1))!
            case .replaceRecords(let replacement):
                spoiled = replacement
            case .divergingEpoch:
                return nil
            case .wrongCorrelationId:
                return try Self.encode(response, version: version, correlationId: correlationId &+ 1_000_000)
            case .hugeFrameLength:
                var frame = try Self.encode(response, version: version, correlationId: correlationId)
                frame.setInteger(Int32.max, at: frame.readerIndex)
                return frame
            }
            response.responses[topicIndex].partitions[partitionIndex].records = RecordSet(spoiled)
            return try Self.encode(response, version: version, correlationId: correlationId)
        }

        private func spoilProduce(_ frame: ByteBuffer, api: ApiKey) -> ByteBuffer? {
            guard let fault = takeFault(api: api, applicable: true) else { return nil }
            var outgoing = Self.prefixed(frame)
            switch fault {
            case .wrongCorrelationId:
                let at = outgoing.readerIndex + 4
                outgoing.setInteger(outgoing.getInteger(at: at, as: Int32.self)! &+ 1_000_000, at: at)
            case .hugeFrameLength:
                outgoing.setInteger(Int32.max, at: outgoing.readerIndex)
            default:
                return nil
            }
            return outgoing
        }

        private func firstRecords(_ response: FetchResponse) -> (Int, Int, ByteBuffer)? {
            for (topicIndex, topic) in response.responses.enumerated() {
                for (partitionIndex, partition) in topic.partitions.enumerated() {
                    if let records = partition.records?.buffer, records.readableBytes > RecordBatchLayout.headerSize {
                        return (topicIndex, partitionIndex, records)
                    }
                }
            }
            return nil
        }

        func channelInactive(context: ChannelHandlerContext) {
            client.close(promise: nil)
        }

        /// A frame read without its size prefix, with it again.
        static func prefixed(_ frame: ByteBuffer) -> ByteBuffer {
            var out = ByteBuffer()
            out.writeInteger(Int32(frame.readableBytes))
            out.writeImmutableBuffer(frame)
            return out
        }

        /// A whole response frame, size prefix included.
        static func encode<Response: KafkaResponse>(_ response: Response, version: Int16, correlationId: Int32) throws -> ByteBuffer {
            var writer = WireWriter()
            try KafkaFrame.writeResponse(response, version: version, correlationId: correlationId, into: &writer)
            var out = ByteBuffer()
            for chunk in writer.finish() {
                if case .buffer(let buffer) = chunk { out.writeImmutableBuffer(buffer) }
            }
            return out
        }
    }
}
