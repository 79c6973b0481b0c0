import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A minimal HTTP/1.1 client for the mock cluster's control endpoint (which answers and closes): one request, the
/// status code and the JSON body.
public enum ControlClient {
    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let received = NIOLockedValueBox(ByteBuffer())
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var chunk = unwrapInboundIn(data)
            received.withLockedValue { _ = $0.writeBuffer(&chunk) }
        }
    }

    /// Sends `method path` (with a JSON `body`) to 127.0.0.1:`port`; returns the status and the parsed JSON.
    public static func request(_ method: String, _ path: String, body: String? = nil, port: Int) async throws -> (status: Int, json: Any) {
        let collector = Collector()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) } }
            .connect(host: "127.0.0.1", port: port).get()
        var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if let body { request += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        request += "\r\n" + (body ?? "")
        try await channel.writeAndFlush(ByteBuffer(string: request)).get()
        // Bounded: the endpoint answers and closes; a broker action takes at most seconds.
        let timeout = channel.eventLoop.scheduleTask(in: .seconds(60)) { channel.close(promise: nil) }
        try await channel.closeFuture.get()
        timeout.cancel()
        let text = collector.received.withLockedValue { String(buffer: $0) }
        let parts = text.components(separatedBy: "\r\n\r\n")
        let status = parts[0].split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? -1
        let json = try JSONSerialization.jsonObject(with: Data(parts.dropFirst().joined(separator: "\r\n\r\n").utf8))
        return (status, json)
    }
}
