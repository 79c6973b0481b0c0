import Foundation
import KafkaProtocol
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// The HTTP control endpoint of a ``MockCluster`` (`mock-broker --control-port P`), on 127.0.0.1 only, JSON in and
/// out: 200 on success, 4xx with `{"error": "..."}` for a bad request.
///
/// - `GET /status`: ``ClusterStatus``
/// - `POST /brokers/{id}/stop` (controlled shutdown), `/kill`, `/start`, `/isolate`, `/heal`
/// - `POST /partitions/{topic}/{partition}/leader` with `{"broker": id}`
/// - `POST /faults` with a ``FaultDescription``, `GET /faults`, `DELETE /faults`
public final class ControlServer: Sendable {
    private let cluster: MockCluster
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel

    /// The port it listens on (the chosen one when started with 0).
    public var port: Int { channel.localAddress?.port ?? 0 }

    private init(cluster: MockCluster, group: MultiThreadedEventLoopGroup, channel: any Channel) {
        self.cluster = cluster
        self.group = group
        self.channel = channel
    }

    /// Listens on 127.0.0.1:`port` (0: a free port).
    public static func start(cluster: MockCluster, port: Int, logger: Logger = Logger(label: "mock-broker-control")) async throws -> ControlServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            let channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 64)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(ControlHandler(cluster: cluster, logger: logger))
                    }
                }
                .bind(host: "127.0.0.1", port: port)
                .get()
            return ControlServer(cluster: cluster, group: group, channel: channel)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    /// Stops listening and shuts its event loop down.
    public func stop() async throws {
        try? await channel.close()
        try await group.shutdownGracefully()
    }
}

/// An error answer of the control endpoint.
struct ControlError: Error {
    let status: HTTPResponseStatus
    let message: String

    init(_ status: HTTPResponseStatus, _ message: String) {
        self.status = status
        self.message = message
    }
}

/// One HTTP connection of the control endpoint: collects a request, routes it (asynchronously: broker actions
/// take time), answers and closes.
final class ControlHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let cluster: MockCluster
    private let logger: Logger
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    /// Requests larger than this are refused (a control request is a small JSON object).
    private static let maxBody = 64 * 1024

    init(cluster: MockCluster, logger: Logger) {
        self.cluster = cluster
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.clear()
        case .body(var chunk):
            if body.readableBytes + chunk.readableBytes <= Self.maxBody { body.writeBuffer(&chunk) }
        case .end:
            guard let head else { return }
            self.head = nil
            let request = ControlRequest(method: head.method, path: head.uri, body: body)
            let cluster = self.cluster
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            let eventLoop = context.eventLoop
            let logger = self.logger
            Task {
                let answer: (HTTPResponseStatus, ByteBuffer)
                do {
                    answer = (.ok, try await request.route(cluster))
                } catch let error as ControlError {
                    answer = (error.status, ControlRequest.errorBody(error.message))
                } catch {
                    answer = (.conflict, ControlRequest.errorBody("\(error)"))
                }
                logger.info("control: \(request.method) \(request.path) -> \(answer.0.code)")
                eventLoop.execute {
                    let context = bound.value
                    var headers = HTTPHeaders()
                    headers.add(name: "content-type", value: "application/json")
                    headers.add(name: "content-length", value: String(answer.1.readableBytes))
                    headers.add(name: "connection", value: "close")
                    context.write(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: answer.0,
                                                                                         headers: headers))), promise: nil)
                    context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(answer.1))), promise: nil)
                    context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).whenComplete { _ in
                        bound.value.close(promise: nil)
                    }
                }
            }
        }
    }
}

/// A parsed control request and its routes.
struct ControlRequest: Sendable {
    let method: HTTPMethod
    let path: String
    let body: ByteBuffer

    static func errorBody(_ message: String) -> ByteBuffer {
        ByteBuffer(bytes: (try? JSONEncoder().encode(["error": message])) ?? Data("{\"error\":\"?\"}".utf8))
    }

    private static func json<Value: Encodable>(_ value: Value) throws -> ByteBuffer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return ByteBuffer(bytes: try encoder.encode(value))
    }

    private func decode<Value: Decodable>(_: Value.Type) throws -> Value {
        do {
            return try JSONDecoder().decode(Value.self, from: Data(body.readableBytesView))
        } catch {
            throw ControlError(.badRequest, "the body is not the JSON expected: \(error)")
        }
    }

    private struct LeaderMove: Decodable {
        var broker: Int32
    }

    private struct Done: Encodable {
        var ok = true
        var broker: Int32
        var action: String
    }

    private struct FaultList: Encodable {
        var faults: [FaultDescription]
    }

    func route(_ cluster: MockCluster) async throws -> ByteBuffer {
        let pathOnly = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? path
        let parts = pathOnly.split(separator: "/").map { $0.removingPercentEncoding ?? String($0) }
        switch (method, parts.count) {
        case (.GET, 1) where parts[0] == "status":
            return try Self.json(await cluster.status())
        case (.POST, 3) where parts[0] == "brokers":
            guard let id = Int32(parts[1]), cluster.brokerIds.contains(id) else {
                throw ControlError(.notFound, "there is no broker \(parts[1])")
            }
            do {
                switch parts[2] {
                case "stop": try await cluster.stopBroker(id)
                case "kill": try await cluster.killBroker(id)
                case "start": try await cluster.startBroker(id)
                case "isolate": try await cluster.isolate(id)
                case "heal": try await cluster.heal(id)
                default: throw ControlError(.notFound, "unknown broker action \(parts[2]): stop, kill, start, isolate or heal")
                }
            } catch let error as MockCluster.ClusterError {
                throw ControlError(.conflict, error.description)
            }
            return try Self.json(Done(broker: id, action: parts[2]))
        case (.POST, 4) where parts[0] == "partitions" && parts[3] == "leader":
            guard let partition = Int32(parts[2]), cluster.partition(topic: parts[1], partition: partition) != nil else {
                throw ControlError(.notFound, "there is no partition \(parts[1])-\(parts[2])")
            }
            let move = try decode(LeaderMove.self)
            do {
                try cluster.moveLeader(topic: parts[1], partition: partition, to: move.broker)
            } catch {
                throw ControlError(.conflict, "\(error)")
            }
            return try Self.json(cluster.partition(topic: parts[1], partition: partition))
        case (.POST, 1) where parts[0] == "faults":
            let description = try decode(FaultDescription.self)
            switch description.fault() {
            case .success(let fault):
                if let broker = description.broker, !cluster.brokerIds.contains(broker) {
                    throw ControlError(.notFound, "there is no broker \(broker)")
                }
                do {
                    try cluster.injectFault(fault, broker: description.broker)
                } catch {
                    throw ControlError(.conflict, "\(error)")
                }
                return try Self.json(FaultList(faults: pending(cluster)))
            case .failure(let error):
                throw ControlError(.badRequest, error.description)
            }
        case (.GET, 1) where parts[0] == "faults":
            return try Self.json(FaultList(faults: pending(cluster)))
        case (.DELETE, 1) where parts[0] == "faults":
            cluster.clearFaults()
            return try Self.json(FaultList(faults: []))
        default:
            throw ControlError(.notFound, "no route \(method) \(pathOnly): see GET /status, POST /brokers/{id}/stop|kill|start|isolate|heal, POST /partitions/{topic}/{partition}/leader, POST|GET|DELETE /faults")
        }
    }

    private func pending(_ cluster: MockCluster) -> [FaultDescription] {
        cluster.pendingFaults.sorted { $0.key < $1.key }.flatMap { broker, faults in
            faults.map { FaultDescription($0, broker: broker) }
        }
    }
}
