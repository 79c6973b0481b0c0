import KafkaProtocol

/// Why a ``KafkaAdmin`` call failed.
public enum KafkaAdminError: KafkaError {
    /// A broker answered with an error code; `context` names the call and the resource (and carries the broker's
    /// message when it sent one).
    case broker(KafkaErrorCode, context: String)
    /// The request could not be made or its answer not read (no connection, no common API version, a malformed
    /// response).
    case request(KafkaClientError)
    /// The call kept meeting retriable errors until `default.api.timeout.ms` ran out; `lastError` is the last.
    indirect case timedOut(operation: String, lastError: KafkaAdminError?)
    /// An argument the call cannot work with (an empty topic name, a partition count below one).
    case invalidArgument(String)
    /// Contradictory settings.
    case invalidConfiguration(String)
    /// The admin client is closed.
    case closed

    /// A short description.
    public var description: String {
        switch self {
        case let .broker(code, context): "\(context): \(code.name) (\(code.rawValue)): \(code.explanation)"
        case let .request(error): "\(error)"
        case let .timedOut(operation, last):
            "\(operation) did not complete within default.api.timeout.ms" + (last.map { " (last error: \($0))" } ?? "")
        case let .invalidArgument(reason): reason
        case let .invalidConfiguration(reason): "invalid admin configuration: \(reason)"
        case .closed: "the admin client is closed"
        }
    }

    /// The broker's error code, when a broker refused the call (directly or as the last error before a timeout).
    public var brokerErrorCode: KafkaErrorCode? {
        switch self {
        case .broker(let code, _): code
        case .request(let error): error.brokerErrorCode
        case .timedOut(_, let last): last?.brokerErrorCode
        default: nil
        }
    }

    /// Whether retrying may succeed: the retriable broker errors except UNKNOWN_TOPIC_OR_PARTITION (an admin call
    /// on a topic that does not exist fails at once, as in the Java client), lost connections and timeouts.
    var isRetriable: Bool {
        switch self {
        case .broker(let code, _): code.isRetriable && code != .unknownTopicOrPartition
        case .request(let error): error.isRetriable
        default: false
        }
    }
}
