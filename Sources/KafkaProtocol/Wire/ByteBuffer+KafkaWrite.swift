import NIOCore

/// Writers for the protocol's primitive types. Integers use NIO's `writeInteger` (big-endian).
extension ByteBuffer {
    @inlinable
    mutating func writeKafkaBool(_ value: Bool) {
        writeInteger(value ? 1 : 0, as: UInt8.self)
    }

    @inlinable
    mutating func writeKafkaFloat64(_ value: Double) {
        writeInteger(value.bitPattern)
    }

    mutating func writeKafkaUUID(_ value: KafkaUUID) {
        writeInteger(value.high)
        writeInteger(value.low)
    }

    /// Writes an unsigned varint (7 bits a byte, low bits first).
    @inlinable
    public mutating func writeKafkaUnsignedVarint(_ value: UInt32) {
        var remaining = value
        while remaining >= 0x80 {
            writeInteger(UInt8(truncatingIfNeeded: remaining) | 0x80)
            remaining >>= 7
        }
        writeInteger(UInt8(remaining))
    }

    /// Writes an unsigned 64-bit varint.
    @inlinable
    public mutating func writeKafkaUnsignedVarlong(_ value: UInt64) {
        var remaining = value
        while remaining >= 0x80 {
            writeInteger(UInt8(truncatingIfNeeded: remaining) | 0x80)
            remaining >>= 7
        }
        writeInteger(UInt8(remaining))
    }

    /// Writes a zigzag-encoded signed varint, as record fields use.
    @inlinable
    public mutating func writeKafkaVarint(_ value: Int32) {
        writeKafkaUnsignedVarint(UInt32(bitPattern: (value << 1) ^ (value >> 31)))
    }

    /// Writes a zigzag-encoded signed 64-bit varint.
    @inlinable
    public mutating func writeKafkaVarlong(_ value: Int64) {
        writeKafkaUnsignedVarlong(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    /// The length prefix of a string, bytes or array field; nil writes null.
    @inlinable
    mutating func writeKafkaLength(_ length: Int?, compact: Bool, classicWidth: Int) {
        if compact {
            writeKafkaUnsignedVarint(UInt32(truncatingIfNeeded: (length ?? -1) + 1))
        } else if classicWidth == 2 {
            writeInteger(Int16(truncatingIfNeeded: length ?? -1))
        } else {
            writeInteger(Int32(truncatingIfNeeded: length ?? -1))
        }
    }

    mutating func writeKafkaString(_ value: String?, compact: Bool) {
        guard let value else {
            writeKafkaLength(nil, compact: compact, classicWidth: 2)
            return
        }
        writeKafkaLength(value.utf8.count, compact: compact, classicWidth: 2)
        writeString(value)
    }

    mutating func writeKafkaBytes(_ value: ByteBuffer?, compact: Bool) {
        guard let value else {
            writeKafkaLength(nil, compact: compact, classicWidth: 4)
            return
        }
        writeKafkaLength(value.readableBytes, compact: compact, classicWidth: 4)
        writeImmutableBuffer(value)
    }

    @inlinable
    mutating func writeKafkaArrayLength(_ count: Int?, compact: Bool) {
        writeKafkaLength(count, compact: compact, classicWidth: 4)
    }
}
