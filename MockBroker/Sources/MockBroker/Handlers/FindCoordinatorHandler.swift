import KafkaProtocol
import NIOCore

/// FindCoordinator: the single broker coordinates every group (and would every transaction). v0–3 ask for one
/// key, v4+ for several.
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
                return supported
                    ? .init(key: key, nodeId: state.nodeId, host: state.advertisedHost, port: state.advertisedPort, errorCode: 0)
                    : .init(key: key, nodeId: -1, host: "", port: -1, errorCode: KafkaErrorCode.invalidRequest.rawValue,
                            errorMessage: "Unknown key type \(request.keyType)")
            }
        } else if let code = state.faults.groupError(api: .findCoordinator, group: request.key) {
            response.errorCode = code.rawValue
            response.nodeId = -1
            response.port = -1
        } else if supported {
            response.nodeId = state.nodeId
            response.host = state.advertisedHost
            response.port = state.advertisedPort
        } else {
            response.errorCode = KafkaErrorCode.invalidRequest.rawValue
            response.nodeId = -1
            response.port = -1
        }
        return context.eventLoop.makeSucceededFuture(response)
    }
}
