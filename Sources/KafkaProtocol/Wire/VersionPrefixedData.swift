import NIOCore

/// Data that travels as opaque bytes inside other messages, prefixed by its own `int16` version: the consumer
/// protocol's subscription (JoinGroup member metadata) and assignment (SyncGroup assignments).
public protocol VersionPrefixedData: KafkaMessage {}

extension ConsumerProtocolSubscription: VersionPrefixedData {}
extension ConsumerProtocolAssignment: VersionPrefixedData {}

extension VersionPrefixedData {
    /// `int16 version` followed by the body.
    public func encodedWithVersionPrefix(version: Int16, allocator: ByteBufferAllocator = ByteBufferAllocator()) throws(KafkaWireError) -> ByteBuffer {
        var writer = WireWriter(allocator: allocator, capacity: 64, spliceThreshold: .max)
        writer.buffer.writeInteger(version)
        try encode(to: &writer, version: version)
        return writer.finishContiguous()
    }

    /// Reads the version prefix and the body. A version newer than this package knows is read as the newest
    /// known one and extra trailing bytes are ignored, so that newer members stay readable (as Java's consumer
    /// protocol does).
    public init(decodingWithVersionPrefix bytes: ByteBuffer) throws(KafkaWireError) {
        var buffer = bytes
        let version = try buffer.readKafkaInteger(as: Int16.self)
        guard version >= Self.versions.lowerBound else {
            throw .unsupportedVersion(message: Self.messageName, version: version)
        }
        try self.init(from: &buffer, version: min(version, Self.versions.upperBound))
    }
}
