import NIOCore

/// Kafka frames: `int32 size` followed by a header and a body. These helpers write whole frames and read the
/// headers, applying the header-version rules (request header v1/v2, response header v0/v1, and ApiVersions
/// responses always with v0).
public enum KafkaFrame {
    /// Writes `size | request header | body`.
    public static func writeRequest<Request: KafkaRequest>(
        _ request: Request,
        version: Int16,
        correlationId: Int32,
        clientId: String?,
        into writer: inout WireWriter
    ) throws(KafkaWireError) {
        let mark = writer.beginFrame()
        let header = RequestHeader(
            requestApiKey: Request.apiKey.rawValue,
            requestApiVersion: version,
            correlationId: correlationId,
            clientId: clientId
        )
        try header.encode(to: &writer, version: Request.requestHeaderVersion(for: version))
        try request.encode(to: &writer, version: version)
        writer.endFrame(mark)
    }

    /// Writes `size | response header | body`; the header version follows the request's API and version.
    public static func writeResponse<Response: KafkaResponse>(
        _ response: Response,
        version: Int16,
        correlationId: Int32,
        into writer: inout WireWriter
    ) throws(KafkaWireError) {
        let mark = writer.beginFrame()
        try ResponseHeader(correlationId: correlationId).encode(
            to: &writer, version: responseHeaderVersion(apiKey: Response.apiKey, version: version)
        )
        try response.encode(to: &writer, version: version)
        writer.endFrame(mark)
    }

    /// Reads a request header from a frame whose size prefix is already removed. The header's own version
    /// depends on the API and version it names, which the first four bytes give.
    public static func readRequestHeader(from frame: inout ByteBuffer) throws(KafkaWireError) -> RequestHeader {
        guard let apiKey = frame.getInteger(at: frame.readerIndex, as: Int16.self),
              let version = frame.getInteger(at: frame.readerIndex + 2, as: Int16.self)
        else {
            throw .truncated(needed: 4, available: frame.readableBytes)
        }
        return try RequestHeader(from: &frame, version: requestHeaderVersion(apiKey: ApiKey(rawValue: apiKey), version: version))
    }

    /// The request header version a client uses for `apiKey` at `version`. For an ApiVersions version newer than
    /// this package knows, the newest (flexible) header, as KIP-511 brokers assume; for unknown APIs, v1.
    public static func requestHeaderVersion(apiKey: ApiKey, version: Int16) -> Int16 {
        guard let request = apiKey.requestType else { return 1 }
        if apiKey == .apiVersions && version > request.versions.upperBound { return 2 }
        return request.requestHeaderVersion(for: version)
    }

    /// The response header version for `apiKey` at `version` (v0 for ApiVersions and unknown APIs).
    public static func responseHeaderVersion(apiKey: ApiKey, version: Int16) -> Int16 {
        apiKey.requestType?.responseHeaderVersion(for: version) ?? 0
    }
}
