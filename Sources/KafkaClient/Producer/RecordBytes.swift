import NIOCore

/// A record's key or value as the producer keeps it: the common types held as themselves, any other
/// ``KafkaBytes`` behind an existential. Reading a `ByteBuffer` this way costs no witness-table calls, box copies or
/// metadata lookups per record, which an `any KafkaBytes` field does.
@usableFromInline
enum RecordBytes: Sendable {
    case buffer(ByteBuffer)
    case string(String)
    case bytes([UInt8])
    /// Boxed in a class, so that the enum stays loadable (copied inline): an existential payload would make every
    /// copy of it go through witness tables.
    case other(OtherKafkaBytes)

    /// Takes the concrete type out of the existential when it is a common one. Inlined where a record is made,
    /// the cast is resolved at compile time when the argument's type is known there.
    @inlinable
    init(_ bytes: any KafkaBytes) {
        if let buffer = bytes as? ByteBuffer {
            self = .buffer(buffer)
        } else if let string = bytes as? String {
            self = .string(string)
        } else if let array = bytes as? [UInt8] {
            self = .bytes(array)
        } else {
            self = .other(OtherKafkaBytes(bytes))
        }
    }

    @usableFromInline
    var existential: any KafkaBytes {
        switch self {
        case .buffer(let buffer): buffer
        case .string(let string): string
        case .bytes(let bytes): bytes
        case .other(let other): other.bytes
        }
    }

    @inline(__always)
    var count: Int {
        switch self {
        case .buffer(let buffer): buffer.readableBytes
        case .string(let string): string.utf8.count
        case .bytes(let bytes): bytes.count
        case .other(let other): other.bytes.kafkaByteCount
        }
    }

    @inline(__always)
    func withBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        switch self {
        case .buffer(let buffer): buffer.withUnsafeReadableBytes(body)
        case .string(let string): string.withKafkaBytes(body)
        case .bytes(let bytes): bytes.withUnsafeBytes(body)
        case .other(let other): other.bytes.withKafkaBytes(body)
        }
    }
}

/// A ``KafkaBytes`` of a type ``RecordBytes`` has no case for.
@usableFromInline
final class OtherKafkaBytes: Sendable {
    @usableFromInline let bytes: any KafkaBytes

    @usableFromInline
    init(_ bytes: any KafkaBytes) {
        self.bytes = bytes
    }
}

/// `body` with the bytes of an optional key or value (nil for a null one).
@inline(__always)
func withOptionalBytes<Result>(_ bytes: RecordBytes?, _ body: (UnsafeRawBufferPointer?) -> Result) -> Result {
    guard let bytes else { return body(nil) }
    return bytes.withBytes { body($0) }
}
