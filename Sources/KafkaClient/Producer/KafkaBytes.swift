import NIOCore

/// Bytes a record's key or value can be given as. The producer copies them once, straight into the batch (a
/// `ByteBuffer` value of 2 KiB or more in an uncompressed batch is referenced instead, and written from where it
/// is); none of these conformances allocates to hand the bytes over.
public protocol KafkaBytes: Sendable {
    var kafkaByteCount: Int { get }
    func withKafkaBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result
}

extension ByteBuffer: KafkaBytes {
    /// The number of bytes.
    public var kafkaByteCount: Int { readableBytes }
    /// Calls `body` with the bytes, without copying where the storage is contiguous.
    public func withKafkaBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try withUnsafeReadableBytes(body)
    }
}

extension Array: KafkaBytes where Element == UInt8 {
    /// The number of bytes.
    public var kafkaByteCount: Int { count }
    /// Calls `body` with the bytes, without copying where the storage is contiguous.
    public func withKafkaBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try withUnsafeBytes(body)
    }
}

extension ArraySlice: KafkaBytes where Element == UInt8 {
    /// The number of bytes.
    public var kafkaByteCount: Int { count }
    /// Calls `body` with the bytes, without copying where the storage is contiguous.
    public func withKafkaBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try withUnsafeBytes(body)
    }
}

extension String: KafkaBytes {
    /// The number of bytes.
    public var kafkaByteCount: Int { utf8.count }
    /// Calls `body` with the bytes, without copying where the storage is contiguous.
    public func withKafkaBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        var string = self
        return try string.withUTF8 { try body(UnsafeRawBufferPointer($0)) }
    }
}

extension Substring: KafkaBytes {
    /// The number of bytes.
    public var kafkaByteCount: Int { utf8.count }
    /// Calls `body` with the bytes, without copying where the storage is contiguous.
    public func withKafkaBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        var string = self
        return try string.withUTF8 { try body(UnsafeRawBufferPointer($0)) }
    }
}
