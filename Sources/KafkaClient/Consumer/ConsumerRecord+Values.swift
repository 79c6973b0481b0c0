import NIOCore

extension ConsumerRecord {
    /// The value as UTF-8 text (invalid sequences repaired); nil for a null value.
    public var valueString: String? { value.map { String(buffer: $0) } }

    /// The key as UTF-8 text (invalid sequences repaired); nil when the record has none.
    public var keyString: String? { key.map { String(buffer: $0) } }

    /// A copy of the value's bytes; nil for a null value.
    public var valueBytes: [UInt8]? { value.map { Array($0.readableBytesView) } }

    /// A copy of the key's bytes; nil when the record has none.
    public var keyBytes: [UInt8]? { key.map { Array($0.readableBytesView) } }
}
