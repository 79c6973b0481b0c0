/// Why bytes could not be read as (or a value could not be written as) a Kafka protocol message.
///
/// Decoding never traps on hostile input: truncated data, impossible lengths, over-long varints and unknown
/// versions all surface as one of these cases.
public enum KafkaWireError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The input ended before a value did.
    case truncated(needed: Int, available: Int)
    /// A length or count is negative (other than null's -1) or larger than the bytes that follow it.
    case invalidLength(Int)
    /// A variable-length integer ran past its maximum size.
    case malformedVarint
    /// A field that this version does not allow to be null was null.
    case nullNotAllowed(field: String)
    /// The message type has no such version.
    case unsupportedVersion(message: String, version: Int16)
    /// A field holds a non-default value that the chosen version cannot carry.
    case unsupportedField(_ field: String, version: Int16)
    /// Bytes were left over after a complete message.
    case trailingBytes(Int)
    /// A tagged field's tag is not above the one before it. Kafka writes tags in strictly ascending order (its
    /// own writer refuses anything else), so such a section could not be written back as it was read.
    case taggedFieldOutOfOrder(tag: UInt32, previous: UInt32)

    /// A sentence saying what was wrong.
    public var description: String {
        switch self {
        case let .truncated(needed, available):
            "input truncated: needed \(needed) more bytes, \(available) available"
        case let .invalidLength(length):
            "invalid length or count \(length)"
        case .malformedVarint:
            "malformed varint (too many continuation bytes)"
        case let .nullNotAllowed(field):
            "field \(field) is null but this version does not allow null"
        case let .unsupportedVersion(message, version):
            "\(message) has no version \(version)"
        case let .unsupportedField(field, version):
            "field \(field) has a non-default value that version \(version) cannot carry"
        case let .trailingBytes(count):
            "\(count) unexpected bytes after the message"
        case let .taggedFieldOutOfOrder(tag, previous):
            "tagged field \(tag) follows tagged field \(previous); tags must ascend"
        }
    }
}

extension Optional {
    /// The value, or `nullNotAllowed` when it is nil.
    @inlinable
    func notNull(_ field: String) throws(KafkaWireError) -> Wrapped {
        guard let self else { throw .nullNotAllowed(field: field) }
        return self
    }

    /// `self`, or `nullNotAllowed` when it is nil and `allowed` is false.
    @inlinable
    func notNull(_ field: String, unless allowed: Bool) throws(KafkaWireError) -> Wrapped? {
        if self == nil && !allowed { throw .nullNotAllowed(field: field) }
        return self
    }
}
