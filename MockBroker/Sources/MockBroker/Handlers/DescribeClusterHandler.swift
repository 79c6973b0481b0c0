import KafkaProtocol
import NIOCore

/// DescribeCluster (KIP-700): the cluster id, the controller and the live brokers, as Metadata reports them. Asked for
/// controller endpoints (v1 `EndpointType` 2), a broker answers MISMATCHED_ENDPOINT_TYPE, as Kafka's do.
struct DescribeClusterHandler: Sendable {
    let state: BrokerState

    /// The ACL operations of the cluster resource (CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS,
    /// ALTER_CONFIGS, IDEMPOTENT_WRITE), reported when asked for: there is no authorizer.
    static let clusterAuthorizedOperations: Int32 = (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12)

    func handle(_ request: DescribeClusterRequest, context: RequestContext) -> EventLoopFuture<DescribeClusterResponse?> {
        var response = DescribeClusterResponse(endpointType: request.endpointType, clusterId: state.configuration.clusterId)
        if context.apiVersion >= 1 && request.endpointType != 1 {
            response.errorCode = KafkaErrorCode.mismatchedEndpointType.rawValue
            response.errorMessage = "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type \(request.endpointType == 2 ? "CONTROLLER" : "UNKNOWN")"
            return context.eventLoop.makeSucceededFuture(response)
        }
        response.controllerId = state.cluster.controllerId
        response.brokers = state.cluster.liveBrokers.map { .init(brokerId: $0.id, host: $0.host, port: $0.port, rack: nil) }
        if request.includeClusterAuthorizedOperations {
            response.clusterAuthorizedOperations = Self.clusterAuthorizedOperations
        }
        return context.eventLoop.makeSucceededFuture(response)
    }
}
