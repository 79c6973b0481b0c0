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
    let handlers: RequestHandlers

    func route(_ frame: ByteBuffer, eventLoop: any EventLoop, remoteAddress: SocketAddress?, logger: Logger) -> EventLoopFuture<ResponseFrame?> {
        var body = frame
        let header: RequestHeader
        do {
            header = try KafkaFrame.readRequestHeader(from: &body)
        } catch {
            return eventLoop.makeFailedFuture(RouterError.malformedHeader(error))
        }
        var logger = logger
        logger[metadataKey: "correlation"] = "\(header.correlationId)"
        let context = RequestContext(header: header, eventLoop: eventLoop, remoteAddress: remoteAddress, logger: logger)
        let api = ApiKey(rawValue: header.requestApiKey)
        // APIs it does not serve count under one name: a peer sending random keys must not grow the counters.
        state.counters.request(SupportedApis.all.contains { $0.key == api } ? api.name : "unsupported", bytes: frame.readableBytes + 4)
        switch api {
        case .apiVersions: return handlers.apiVersions.handle(body, context: context)
        case .metadata: return dispatch(body, context, handlers.metadata.handle)
        case .produce: return dispatch(body, context, handlers.produce.handle)
        case .fetch: return dispatch(body, context, handlers.fetch.handle)
        case .listOffsets: return dispatch(body, context, handlers.listOffsets.handle)
        case .createTopics: return dispatch(body, context, handlers.topicAdmin.createTopics)
        case .deleteTopics: return dispatch(body, context, handlers.topicAdmin.deleteTopics)
        case .createPartitions: return dispatch(body, context, handlers.topicAdmin.createPartitions)
        case .describeConfigs: return dispatch(body, context, handlers.describeConfigs.handle)
        case .deleteRecords: return dispatch(body, context, handlers.deleteRecords.handle)
        case .initProducerId: return dispatch(body, context, handlers.initProducerId.handle)
        case .offsetForLeaderEpoch: return dispatch(body, context, handlers.offsetForLeaderEpoch.handle)
        case .findCoordinator: return dispatch(body, context, handlers.findCoordinator.handle)
        case .joinGroup: return dispatch(body, context, handlers.groups.joinGroup)
        case .syncGroup: return dispatch(body, context, handlers.groups.syncGroup)
        case .heartbeat: return dispatch(body, context, handlers.groups.heartbeat)
        case .leaveGroup: return dispatch(body, context, handlers.groups.leaveGroup)
        case .offsetCommit: return dispatch(body, context, handlers.groups.offsetCommit)
        case .offsetFetch: return dispatch(body, context, handlers.groups.offsetFetch)
        case .describeGroups: return dispatch(body, context, handlers.groups.describeGroups)
        case .listGroups: return dispatch(body, context, handlers.groups.listGroups)
        case .deleteGroups: return dispatch(body, context, handlers.groups.deleteGroups)
        case .offsetDelete: return dispatch(body, context, OffsetDeleteHandler(state: state).handle)
        case .incrementalAlterConfigs: return dispatch(body, context, IncrementalAlterConfigsHandler(state: state).handle)
        case .describeCluster: return dispatch(body, context, DescribeClusterHandler(state: state).handle)
        case .electLeaders: return dispatch(body, context, ElectLeadersHandler(state: state).handle)
        default:
            return eventLoop.makeFailedFuture(RouterError.unsupported(api: api, version: header.requestApiVersion))
        }
    }

    private func dispatch<Request: KafkaRequest>(
        _ body: ByteBuffer,
        _ context: RequestContext,
        _ handle: (Request, RequestContext) -> EventLoopFuture<Request.Response?>
    ) -> EventLoopFuture<ResponseFrame?> {
        let version = context.apiVersion
        guard SupportedApis.accepts(Request.apiKey, version: version) else {
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
        let fault = state.faults.take(api: Request.apiKey, partitions: request.faultScope { self.state.topics.topic(id: $0)?.name })
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

/// One handler per API (or group of related APIs).
struct RequestHandlers: Sendable {
    let apiVersions: ApiVersionsHandler
    let metadata: MetadataHandler
    let produce: ProduceHandler
    let fetch: FetchHandler
    let listOffsets: ListOffsetsHandler
    let topicAdmin: TopicAdminHandler
    let describeConfigs: DescribeConfigsHandler
    let deleteRecords: DeleteRecordsHandler
    let initProducerId: InitProducerIdHandler
    let offsetForLeaderEpoch: OffsetForLeaderEpochHandler
    let findCoordinator: FindCoordinatorHandler
    let groups: GroupHandlers

    init(state: BrokerState) {
        apiVersions = ApiVersionsHandler(state: state)
        metadata = MetadataHandler(state: state)
        produce = ProduceHandler(state: state)
        fetch = FetchHandler(state: state)
        listOffsets = ListOffsetsHandler(state: state)
        topicAdmin = TopicAdminHandler(state: state)
        describeConfigs = DescribeConfigsHandler(state: state)
        deleteRecords = DeleteRecordsHandler(state: state)
        initProducerId = InitProducerIdHandler(state: state)
        offsetForLeaderEpoch = OffsetForLeaderEpochHandler(state: state)
        findCoordinator = FindCoordinatorHandler(state: state)
        groups = GroupHandlers(state: state)
    }
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
