import KafkaProtocol

/// The family of errors this library throws: ``KafkaClientError`` (connections and requests),
/// ``KafkaProducerError`` and ``KafkaConsumerError`` (and the admin client's errors).
///
/// Each has one `broker` case for an error code a broker answered with, whoever raised it, so one check finds a
/// broker's answer wherever it surfaced:
///
/// ```swift
/// do {
///     try await consumer.commit()
/// } catch let error as any KafkaError where error.brokerErrorCode == .rebalanceInProgress {
///     // ...
/// }
/// ```
public protocol KafkaError: Error, Sendable, CustomStringConvertible {
    /// The error code a broker answered with, when a broker's answer is the cause; nil otherwise.
    var brokerErrorCode: KafkaErrorCode? { get }
}

extension KafkaClientError: KafkaError {
    /// The code of a ``broker(_:context:)`` error.
    public var brokerErrorCode: KafkaErrorCode? {
        if case .broker(let code, _) = self { return code }
        return nil
    }
}

extension KafkaProducerError: KafkaError {
    /// The code of a ``broker(_:topic:partition:)`` error (or of the first failure of ``recordsFailed(count:first:)``).
    public var brokerErrorCode: KafkaErrorCode? {
        switch self {
        case .broker(let code, _, _): code
        case .recordsFailed(_, let first): first.brokerErrorCode
        default: nil
        }
    }
}

extension KafkaConsumerError: KafkaError {
    /// The code of a ``broker(_:context:)`` or ``commitFailed(_:)`` error, or of a lookup's broker answer.
    public var brokerErrorCode: KafkaErrorCode? {
        switch self {
        case .broker(let code, _), .commitFailed(let code): code
        case .request(let error): error.brokerErrorCode
        default: nil
        }
    }
}

extension KafkaConsumerError {
    /// A lookup's failure as the consumer reports it: a broker's error code as ``broker(_:context:)``.
    init(_ error: KafkaClientError) {
        if case .broker(let code, let context) = error {
            self = .broker(code, context: context)
        } else {
            self = .request(error)
        }
    }
}
