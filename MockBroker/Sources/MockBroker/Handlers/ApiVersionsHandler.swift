import KafkaProtocol
import NIOCore

/// ApiVersions: the APIs and version ranges the broker serves. A request in a version the broker does not
/// know gets UNSUPPORTED_VERSION in a v0 body that still lists the ranges (KIP-511), so the client can retry.
/// The optional feature fields stay at their defaults, keeping the tagged-field section empty (librdkafka before
/// 2.2 mis-skips a non-empty one).
struct ApiVersionsHandler: Sendable {
    let state: BrokerState

    func handle(_ body: ByteBuffer, context: RequestContext, router: RequestRouter) -> EventLoopFuture<ResponseFrame?> {
        var response = ApiVersionsResponse(
            errorCode: 0,
            apiKeys: router.table.all.map {
                .init(apiKey: $0.key.rawValue, minVersion: $0.advertised.lowerBound, maxVersion: $0.advertised.upperBound)
            }
        )
        var version = context.apiVersion
        if ApiVersionsRequest.versions.contains(version) {
            var body = body
            do {
                _ = try ApiVersionsRequest(from: &body, version: version)
            } catch {
                return context.eventLoop.makeFailedFuture(
                    RequestRouter.RouterError.malformedBody(api: .apiVersions, version: version, error))
            }
        } else {
            context.logger.debug("ApiVersions v\(version) is newer than supported; answering v0 UNSUPPORTED_VERSION")
            response.errorCode = KafkaErrorCode.unsupportedVersion.rawValue
            version = 0
        }
        return context.eventLoop.makeCompletedFuture {
            try encode(response, version: version, correlationId: context.header.correlationId)
        }
    }
}
