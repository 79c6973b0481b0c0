import KafkaProtocol

/// Why a client operation failed.
public enum KafkaClientError: Error, Sendable, CustomStringConvertible {
    /// No connection could be made to the broker.
    case connectionFailed(broker: String, reason: String)
    /// The connection closed before the response arrived.
    case connectionClosed(broker: String)
    /// No response within `request.timeout.ms`; the connection is closed, as the Java client does.
    case requestTimedOut(api: ApiKey, broker: String, milliseconds: Int64)
    /// The broker and this client share no version of the API.
    case unsupportedVersion(api: ApiKey, broker: String, brokerVersions: ClosedRange<Int16>?)
    /// The broker answered with an error code.
    case broker(KafkaErrorCode, context: String)
    /// Bytes from the broker did not parse.
    case malformedResponse(api: ApiKey, broker: String, reason: String)
    /// The request holds a value the negotiated version has no field for (nothing was sent).
    case requestNotEncodable(api: ApiKey, version: Int16, reason: String)

    /// A readable account of the failure.
    public var description: String {
        switch self {
        case let .connectionFailed(broker, reason): "could not connect to \(broker): \(reason)"
        case let .connectionClosed(broker): "connection to \(broker) closed"
        case let .requestTimedOut(api, broker, milliseconds): "\(api) request to \(broker) timed out after \(milliseconds) ms"
        case let .unsupportedVersion(api, broker, versions):
            "\(broker) supports no version of \(api) this client speaks"
                + (versions.map { " (broker: \($0.lowerBound)...\($0.upperBound))" } ?? " (not offered)")
        case let .broker(code, context): "\(context): \(code)"
        case let .malformedResponse(api, broker, reason): "malformed \(api) response from \(broker): \(reason)"
        case let .requestNotEncodable(api, version, reason): "\(api) v\(version) request cannot be encoded: \(reason)"
        }
    }

    /// Whether retrying the operation may succeed.
    public var isRetriable: Bool {
        switch self {
        case .connectionFailed, .connectionClosed, .requestTimedOut: true
        case .broker(let code, _): code.isRetriable
        case .unsupportedVersion, .malformedResponse, .requestNotEncodable: false
        }
    }
}
