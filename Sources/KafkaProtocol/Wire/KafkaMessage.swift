import NIOCore

/// A message with a versioned wire form: every generated request, response, header and consumer-protocol type.
public protocol KafkaMessage: Sendable, Hashable {
    /// The versions this type can read and write.
    static var versions: ClosedRange<Int16> { get }
    /// The first version that uses compact encodings and tagged fields, or nil if none does.
    static var firstFlexibleVersion: Int16? { get }

    /// A value with every field at its schema default.
    init()

    /// Reads the message as written at `version`, consuming its bytes from `buffer`.
    init(from buffer: inout ByteBuffer, version: Int16) throws(KafkaWireError)

    /// Writes the message as `version` lays it out.
    func encode(to writer: inout WireWriter, version: Int16) throws(KafkaWireError)
}

/// A request: it names its API key and the type of the response it gets.
public protocol KafkaRequest: KafkaMessage {
    associatedtype Response: KafkaResponse
    static var apiKey: ApiKey { get }
}

/// A response to a ``KafkaRequest``.
public protocol KafkaResponse: KafkaMessage {
    static var apiKey: ApiKey { get }
}

extension KafkaMessage {
    /// The type's name, for errors and logs.
    public static var messageName: String { String(describing: Self.self) }

    /// Whether `version` uses the flexible encoding (compact strings and arrays, tagged fields).
    public static func isFlexible(_ version: Int16) -> Bool {
        firstFlexibleVersion.map { version >= $0 } ?? false
    }

    static func checkVersion(_ version: Int16) throws(KafkaWireError) {
        guard versions.contains(version) else {
            throw .unsupportedVersion(message: messageName, version: version)
        }
    }

    /// Decodes a whole message: every byte of `buffer` must belong to it.
    public init(decoding buffer: ByteBuffer, version: Int16) throws(KafkaWireError) {
        var buffer = buffer
        try self.init(from: &buffer, version: version)
        if buffer.readableBytes > 0 { throw .trailingBytes(buffer.readableBytes) }
    }

    /// The message's bytes in one buffer (record payloads copied in).
    public func encoded(version: Int16, allocator: ByteBufferAllocator = ByteBufferAllocator()) throws(KafkaWireError) -> ByteBuffer {
        var writer = WireWriter(allocator: allocator, spliceThreshold: .max)
        try encode(to: &writer, version: version)
        return writer.finishContiguous()
    }
}

extension KafkaRequest {
    /// Request header v2 for flexible versions, v1 otherwise.
    public static func requestHeaderVersion(for version: Int16) -> Int16 {
        isFlexible(version) ? 2 : 1
    }

    /// Response header v1 for flexible versions, v0 otherwise; ApiVersions responses always use v0 so that a
    /// client can read the error code before it knows which version the broker answered with.
    public static func responseHeaderVersion(for version: Int16) -> Int16 {
        apiKey != .apiVersions && isFlexible(version) ? 1 : 0
    }
}
