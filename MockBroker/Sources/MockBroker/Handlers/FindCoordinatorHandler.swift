import KafkaProtocol
import NIOCore

/// FindCoordinator: a group's coordinator is the leader of its `__consumer_offsets` partition (a lone broker
/// coordinates every group); COORDINATOR_NOT_AVAILABLE while that partition has no leader. Transactional ids
/// get this broker (transactions are not supported yet). v0–3 ask for one key, v4+ for several.
struct FindCoordinatorHandler: Sendable {
    let state: BrokerState

    static let groupKey: Int8 = 0
    static let transactionKey: Int8 = 1

    func handle(_ request: FindCoordinatorRequest, context: RequestContext) -> EventLoopFuture<FindCoordinatorResponse?> {
        var response = FindCoordinatorResponse()
        let supported = request.keyType == Self.groupKey || request.keyType == Self.transactionKey
        if context.apiVersion >= 4 {
            response.coordinators = request.coordinatorKeys.map { key in
                if let code = state.faults.groupError(api: .findCoordinator, group: key) {
                    return .init(key: key, nodeId: -1, host: "", port: -1, errorCode: code.rawValue)
                }
                guard supported else {
                    return .init(key: key, nodeId: -1, host: "", port: -1, errorCode: KafkaErrorCode.invalidRequest.rawValue,
                                 errorMessage: "Unknown key type \(request.keyType)")
                }
                guard let node = coordinator(for: key, keyType: request.keyType) else {
                    return .init(key: key, nodeId: -1, host: "", port: -1,
                                 errorCode: KafkaErrorCode.coordinatorNotAvailable.rawValue)
                }
                return .init(key: key, nodeId: node.id, host: node.host, port: node.port, errorCode: 0)
            }
        } else if let code = state.faults.groupError(api: .findCoordinator, group: request.key) {
            response.errorCode = code.rawValue
            response.nodeId = -1
            response.port = -1
        } else if supported {
            if let node = coordinator(for: request.key, keyType: request.keyType) {
                response.nodeId = node.id
                response.host = node.host
                response.port = node.port
            } else {
                response.errorCode = KafkaErrorCode.coordinatorNotAvailable.rawValue
                response.nodeId = -1
                response.port = -1
            }
        } else {
            response.errorCode = KafkaErrorCode.invalidRequest.rawValue
            response.nodeId = -1
            response.port = -1
        }
        return context.eventLoop.makeSucceededFuture(response)
    }

    /// The coordinating broker's id and address; nil when there is none now.
    private func coordinator(for key: String, keyType: Int8) -> (id: Int32, host: String, port: Int32)? {
        if state.cluster.isLoneBroker || keyType != Self.groupKey {
            return (state.nodeId, state.advertisedHost, state.advertisedPort)
        }
        let id = state.coordinator(of: key)
        guard id >= 0, let broker = state.cluster.broker(id), broker.registered, !broker.isolated else { return nil }
        return (id, broker.host, broker.port)
    }
}
