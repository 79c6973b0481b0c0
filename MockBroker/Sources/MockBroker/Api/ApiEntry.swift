import KafkaProtocol
import NIOCore

/// One row of the ``ApiTable``: an API key, its versions, and how a request frame for it is answered.
struct ApiEntry: Sendable {
    /// Turns a request body (the header already read) into the response frame, or nil for no response.
    typealias Route = @Sendable (_ body: ByteBuffer, _ context: RequestContext, _ router: RequestRouter)
        -> EventLoopFuture<ResponseFrame?>

    let key: ApiKey
    /// What ApiVersions advertises.
    let advertised: ClosedRange<Int16>
    /// What the broker accepts (may be narrower than advertised).
    let accepted: ClosedRange<Int16>
    let route: Route

    /// An API whose body the router decodes into `Request` and whose typed response it encodes, applying faults.
    static func typed<Request: KafkaRequest>(
        _: Request.Type,
        advertised: ClosedRange<Int16>? = nil,
        _ handle: @escaping @Sendable (Request, RequestContext) -> EventLoopFuture<Request.Response?>
    ) -> ApiEntry {
        ApiEntry(key: Request.apiKey, advertised: advertised ?? Request.versions, accepted: Request.versions) { body, context, router in
            router.dispatch(body, context, handle)
        }
    }

    /// An API that reads its own body and writes its own frame (ApiVersions answers versions it cannot parse).
    static func raw<Request: KafkaRequest>(
        _: Request.Type,
        _ handle: @escaping Route
    ) -> ApiEntry {
        ApiEntry(key: Request.apiKey, advertised: Request.versions, accepted: Request.versions, route: handle)
    }
}
