import KafkaProtocol
import NIOCore

/// Why a record was not sent, or why the producer refused a call.
public enum KafkaProducerError: Error, Sendable, CustomStringConvertible {
    /// The record is larger than `max.request.size` or `buffer.memory`, or the broker's `max.message.bytes`.
    case recordTooLarge(bytes: Int, limit: Int, setting: String)
    /// `buffer.memory` stayed full for `max.block.ms`.
    case bufferExhausted(waitedMilliseconds: Int64)
    /// The topic was not in the cluster's metadata within `max.block.ms`; `lastError` says what went wrong last
    /// (a broker that refused connections, say), when something did.
    case unknownTopic(String, lastError: String?)
    /// An explicit partition the topic does not have.
    case invalidPartition(topic: String, partition: Int32, partitionCount: Int32)
    /// No outcome within `delivery.timeout.ms`; the last problem is attached.
    case deliveryTimedOut(lastError: String?)
    /// The broker refused the batch with a non-retriable error (or retries ran out).
    case broker(KafkaErrorCode, topic: String, partition: Int32)
    /// The producer was shut down before the record was delivered, or is already closed.
    case producerClosed
    /// ``KafkaProducer/flush()``: records handed to `enqueue` of a producer without delivery reports failed since the
    /// last flush (their only other trace is an error log); `first` is why the first of them failed.
    indirect case recordsFailed(count: Int, first: KafkaProducerError)
    /// Contradictory settings.
    case invalidConfiguration(String)

    /// A readable account of the failure.
    public var description: String {
        switch self {
        case let .recordTooLarge(bytes, limit, setting): "record of \(bytes) bytes exceeds \(setting) (\(limit))"
        case let .bufferExhausted(waited): "buffer.memory stayed full for \(waited) ms (max.block.ms)"
        case let .unknownTopic(topic, last): "topic \(topic) not present in metadata within max.block.ms"
            + (last.map { " (last error: \($0))" } ?? "")
        case let .invalidPartition(topic, partition, count): "topic \(topic) has \(count) partitions, not partition \(partition)"
        case let .deliveryTimedOut(last): "delivery.timeout.ms expired" + (last.map { " (last error: \($0))" } ?? "")
        case let .broker(code, topic, partition): "\(topic)-\(partition): \(code)"
        case .producerClosed: "the producer is closed"
        case let .recordsFailed(count, first): "\(count) records failed since the last flush (first: \(first))"
        case let .invalidConfiguration(reason): "invalid producer configuration: \(reason)"
        }
    }
}

