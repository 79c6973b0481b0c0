import KafkaProtocol
import NIOCore

/// A record as a test writes or expects it: text keys, values and header values, nil standing for null.
public struct TextRecord: Hashable, Sendable, CustomStringConvertible {
    public var key: String?
    public var value: String?
    public var headers: [TextHeader]
    /// Milliseconds since the epoch.
    public var timestamp: Int64

    public init(key: String?, value: String?, headers: [TextHeader] = [], timestamp: Int64 = 1_700_000_000_000) {
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }

    public var description: String {
        "key=\(key.map { "\"\($0)\"" } ?? "null") value=\(value.map { "\"\($0.prefix(60))\"" } ?? "null") headers=\(headers)"
    }
}

/// A record header with a text value (nil: a null value).
public struct TextHeader: Hashable, Sendable, CustomStringConvertible {
    public var name: String
    public var value: String?

    public init(name: String, value: String?) {
        self.name = name
        self.value = value
    }

    public var description: String { "\(name)=\(value ?? "null")" }

    /// The header as the wire protocol carries it.
    public var recordHeader: RecordHeader { RecordHeader(key: name, value: value.map { ByteBuffer(string: $0) }) }
}

extension Record {
    /// The key as UTF-8 text (nil for a null key).
    public var keyString: String? { key.map { String(buffer: $0) } }
    /// The value as UTF-8 text (nil for a null value: a tombstone).
    public var valueString: String? { value.map { String(buffer: $0) } }

    /// Key, value, headers and timestamp as text.
    public var text: TextRecord {
        TextRecord(key: keyString, value: valueString,
                   headers: headers.map { TextHeader(name: $0.key, value: $0.value.map { String(buffer: $0) }) },
                   timestamp: timestamp)
    }
}
