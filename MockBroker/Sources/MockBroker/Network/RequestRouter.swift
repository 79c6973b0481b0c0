import KafkaProtocol
import Logging
import NIOCore

/// Reads a request's header, decodes its body into the typed request, hands it to the API's handler and
/// encodes the answer. A failed future means the bytes were not a request the broker can serve: the connection
/// is closed, as Kafka closes it.
struct RequestRouter: Sendable {
    enum RouterError: Error, CustomStringConvertible {
        case malformedHeader(KafkaWireError)
        case malformedBody(api: ApiKey, version: Int16, KafkaWireError)
        case unsupported(api: ApiKey, version: Int16)
        case injectedFault(Fault.Action)

        var description: String {
            switch self {
            case .malformedHeader(let error): "request header does not parse: \(error)"
            case let .malformedBody(api, version, error): "\(api) v\(version) request does not parse: \(error)"
            case let .unsupported(api, version): "\(api) v\(version) is not supported by this broker"
            case .injectedFault(let action): "injected fault: \(action)"
            }
        }
    }

    let state: BrokerState
    let table: ApiTable

    init(state: BrokerState) {
        self.state = state
        table = ApiTable(state: state)
    }

    /// Whether produce requests may be handled together (``AppendGroup``): not while a request-wide fault for
    /// Produce is armed, whose dropped answer or closed connection must come before the requests behind it are
    /// handled.
    var mayGroupProduceRequests: Bool { !state.faults.hasRequestFault(api: .produce) }

    func route(_ frame: ByteBuffer, eventLoop: any EventLoop, remoteAddress: SocketAddress?, logger: Logger,
               appendGroup: AppendGroup? = nil) -> EventLoopFuture<ResponseFrame?> {
        var body = frame
        let header: RequestHeader
        do {
            header = try KafkaFrame.readRequestHeader(from: &body)
        } catch {
            return eventLoop.makeFailedFuture(RouterError.malformedHeader(error))
        }
        let context = RequestContext(header: header, eventLoop: eventLoop, remoteAddress: remoteAddress, connectionLogger: logger,
                                     appendGroup: appendGroup)
        let api = ApiKey(rawValue: header.requestApiKey)
        guard let entry = table.entry(api) else {
            // APIs it does not serve count under one name: a peer sending random keys must not grow the counters.
            state.counters.request("unsupported", bytes: frame.readableBytes + 4)
            return eventLoop.makeFailedFuture(RouterError.unsupported(api: api, version: header.requestApiVersion))
        }
        state.counters.request(api.name, bytes: frame.readableBytes + 4)
        return entry.route(body, context, self)
    }

    /// Decodes the body as `Request`, applies request-wide faults, calls the handler and encodes its answer.
    func dispatch<Request: KafkaRequest>(
        _ body: ByteBuffer,
        _ context: RequestContext,
        _ handle: (Request, RequestContext) -> EventLoopFuture<Request.Response?>
    ) -> EventLoopFuture<ResponseFrame?> {
        let version = context.apiVersion
        guard Request.versions.contains(version) else {
            return context.eventLoop.makeFailedFuture(RouterError.unsupported(api: Request.apiKey, version: version))
        }
        var body = body
        let request: Request
        do {
            request = try Request(from: &body, version: version)
        } catch {
            return context.eventLoop.makeFailedFuture(RouterError.malformedBody(api: Request.apiKey, version: version, error))
        }
        let correlationId = context.header.correlationId
        // Request-wide faults; partition errors for Produce are applied by its handler.
        let fault = state.faults.take(api: Request.apiKey) { request.faultScope { self.state.topics.topic(id: $0)?.name } }
        if case .closeConnection? = fault?.action {
            return context.eventLoop.makeFailedFuture(RouterError.injectedFault(.closeConnection))
        }
        let answered = handle(request, context).flatMapThrowing { response -> ResponseFrame? in
            guard let response else { return nil }
            if case .dropResponse? = fault?.action { throw RouterError.injectedFault(.dropResponse) }
            return try encode(response, version: version, correlationId: correlationId)
        }
        if case .delay(let milliseconds)? = fault?.action {
            let eventLoop = context.eventLoop
            return answered.flatMap { frame in
                eventLoop.scheduleTask(in: .milliseconds(milliseconds)) { frame }.futureResult
            }
        }
        return answered
    }
}

/// Encodes a response frame. Handlers fill responses without regard to version; fields the client's version
/// lacks are left out, as Kafka's broker leaves them out.
func encode<Response: KafkaResponse>(_ response: Response, version: Int16, correlationId: Int32) throws -> ResponseFrame {
    var writer = WireWriter()
    writer.rejectsFieldsMissingFromVersion = false
    try KafkaFrame.writeResponse(response, version: version, correlationId: correlationId, into: &writer)
    return ResponseFrame(chunks: writer.finish())
}

/// The partitions a request touches, for matching faults that name a topic (Fetch v13+ names topics by id).
extension KafkaRequest {
    func faultScope(topicName: (KafkaUUID) -> String?) -> [(String, Int32)] {
        switch self {
        case let produce as ProduceRequest:
            produce.topicData.flatMap { topic in topic.partitionData.map { (topic.name, $0.index) } }
        case let fetch as FetchRequest:
            fetch.topics.flatMap { topic in
                let name = topic.topicId == .zero ? topic.topic : (topicName(topic.topicId) ?? topic.topic)
                return topic.partitions.map { (name, $0.partition) }
            }
        default:
            []
        }
    }
}
