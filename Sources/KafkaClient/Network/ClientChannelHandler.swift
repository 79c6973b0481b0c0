import KafkaProtocol
import NIOCore

/// A request on its way out: its encoded frame and, unless it expects no answer (acks=0 produce), where the
/// response body goes.
struct OutboundRequest {
    var chunks: [WireWriter.Chunk]
    var correlationId: Int32
    var response: EventLoopPromise<ByteBuffer>?
    var responseHeaderVersion: Int16
}

/// Writes requests and matches response frames to them by correlation id, stripping the response header
/// (v0: correlation id; v1: correlation id and tagged fields). Closing the connection fails every request
/// still waiting.
final class ClientChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = OutboundRequest
    typealias OutboundOut = IOData

    struct UnexpectedResponse: Error, CustomStringConvertible {
        var correlationId: Int32
        var description: String { "response with unknown correlation id \(correlationId)" }
    }

    struct ConnectionClosed: Error {}

    private var waiting: [Int32: (promise: EventLoopPromise<ByteBuffer>, headerVersion: Int16)] = [:]

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        if let response = request.response {
            waiting[request.correlationId] = (response, request.responseHeaderVersion)
        }
        for (index, chunk) in request.chunks.enumerated() {
            let data: IOData = switch chunk {
            case .buffer(let buffer): .byteBuffer(buffer)
            case .fileRegion(let region): .fileRegion(region)
            }
            context.write(wrapOutboundOut(data), promise: index == request.chunks.count - 1 ? promise : nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var frame = unwrapInboundIn(data)
        let correlationId = frame.readInteger(as: Int32.self) ?? -1
        guard let (promise, headerVersion) = waiting.removeValue(forKey: correlationId) else {
            // Responses come in request order: after one nobody asked for, no later one can be trusted. Every
            // waiting request fails now (rather than at its timeout) and the connection closes.
            errorCaught(context: context, error: UnexpectedResponse(correlationId: correlationId))
            return
        }
        if headerVersion >= 1 {
            var unknown: [TaggedField] = []
            do {
                try frame.readKafkaTaggedFields(unknown: &unknown)
            } catch {
                promise.fail(error)
                return
            }
        }
        promise.succeed(frame)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(ConnectionClosed())
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        failAll(error)
        context.close(promise: nil)
    }

    private func failAll(_ error: Error) {
        let pending = waiting
        waiting.removeAll()
        for (promise, _) in pending.values { promise.fail(error) }
    }
}
