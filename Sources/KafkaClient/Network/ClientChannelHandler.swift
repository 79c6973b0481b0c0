import KafkaProtocol
import NIOCore

/// A request on its way out: its encoded frame and, unless it expects no answer (acks=0 produce), where the
/// response body goes and how long it may take.
struct OutboundRequest {
    var chunks: [WireWriter.Chunk]
    var correlationId: Int32
    var response: EventLoopPromise<ByteBuffer>?
    var responseHeaderVersion: Int16
    var api: ApiKey
    /// `request.timeout.ms`, or longer for requests a broker may hold (JoinGroup).
    var timeout: TimeAmount
}

/// Writes requests and matches response frames to them by correlation id, stripping the response header
/// (v0: correlation id; v1: correlation id and tagged fields). A request unanswered within its timeout fails
/// with ``KafkaClientError/requestTimedOut(api:broker:milliseconds:)`` and closes the connection (responses come
/// in order: after a lost one, the connection cannot be trusted, as in the Java client). Closing the connection
/// fails every request still waiting. Failures are ``KafkaClientError``s naming the broker.
///
/// One timer per connection watches the earliest deadline, rather than a scheduled task per request: a producer
/// with one-record batches sends tens of thousands of requests a second, and arming and cancelling a task for
/// each cost more than the rest of its bookkeeping. The timer is re-armed only when it fires or a request with
/// an earlier deadline is written.
final class ClientChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = OutboundRequest
    typealias OutboundOut = IOData

    struct UnexpectedResponse: Error, CustomStringConvertible {
        var correlationId: Int32
        var description: String { "response with unknown correlation id \(correlationId)" }
    }

    private struct Waiting {
        var promise: EventLoopPromise<ByteBuffer>
        var headerVersion: Int16
        var api: ApiKey
        var timeout: TimeAmount
        var deadline: NIODeadline
    }

    /// `host:port`, for the errors.
    private let broker: String
    private var waiting: [Int32: Waiting] = [:]
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?

    init(broker: String) {
        self.broker = broker
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        if let response = request.response {
            let deadline = context.eventLoop.now + request.timeout
            waiting[request.correlationId] = Waiting(promise: response, headerVersion: request.responseHeaderVersion,
                                                     api: request.api, timeout: request.timeout, deadline: deadline)
            if timerDeadline.map({ deadline < $0 }) ?? true { armTimer(context: context, at: deadline) }
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
        guard let request = waiting.removeValue(forKey: correlationId) else {
            // Responses come in request order: after one nobody asked for, no later one can be trusted. Every
            // waiting request fails now (rather than at its timeout) and the connection closes.
            errorCaught(context: context, error: UnexpectedResponse(correlationId: correlationId))
            return
        }
        if request.headerVersion >= 1 {
            var unknown: [TaggedField] = []
            do {
                try frame.readKafkaTaggedFields(unknown: &unknown)
            } catch {
                request.promise.fail(KafkaClientError.malformedResponse(api: request.api, broker: broker, reason: "\(error)"))
                return
            }
        }
        request.promise.succeed(frame)
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimer()
        let broker = self.broker
        failAll { _ in KafkaClientError.connectionClosed(broker: broker) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        let broker = self.broker
        failAll { request in
            if let error = error as? KafkaClientError { return error }
            return KafkaClientError.malformedResponse(api: request.api, broker: broker, reason: "\(error)")
        }
        context.close(promise: nil)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimer()
    }

    private func failAll(_ error: (Waiting) -> KafkaClientError) {
        let pending = waiting
        waiting.removeAll()
        for request in pending.values { request.promise.fail(error(request)) }
    }

    // MARK: - Timeouts

    private func armTimer(context: ChannelHandlerContext, at deadline: NIODeadline) {
        timer?.cancel()
        timerDeadline = deadline
        // The handler and its context belong to the channel's event loop, which is where the timer fires.
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            timerDeadline = nil
            expireRequests(context: context)
        }
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
        timerDeadline = nil
    }

    /// Fails the requests past their deadlines and closes the connection; with none, watches the next deadline.
    private func expireRequests(context: ChannelHandlerContext) {
        let now = context.eventLoop.now
        let expired = waiting.filter { $0.value.deadline <= now }
        guard expired.isEmpty else {
            for (correlationId, request) in expired.sorted(by: { $0.key < $1.key }) {
                waiting.removeValue(forKey: correlationId)
                request.promise.fail(KafkaClientError.requestTimedOut(api: request.api, broker: broker,
                                                                      milliseconds: request.timeout.nanoseconds / 1_000_000))
            }
            context.close(promise: nil)
            return
        }
        if let next = waiting.values.map(\.deadline).min() { armTimer(context: context, at: next) }
    }
}
