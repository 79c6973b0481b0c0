#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import NIOCore

extension ConsumerRecord {
    /// A copy of the value's bytes as `Data`; nil for a null value.
    public var valueData: Data? { value.map { Data($0.readableBytesView) } }

    /// A copy of the key's bytes as `Data`; nil when the record has none.
    public var keyData: Data? { key.map { Data($0.readableBytesView) } }
}

/// `Data` keys and values for ``ProducerRecord``.
extension Data: KafkaBytes {
    /// The number of bytes.
    public var kafkaByteCount: Int { count }

    /// Calls `body` with the bytes.
    public func withKafkaBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try withUnsafeBytes(body)
    }
}
