import NIOCore

/// Readers for the protocol's primitive types. Each consumes what it reads and throws instead of trapping.
/// Strings, bytes and records come back as nil when the wire says null; the generated code decides whether the
/// field's version allows it.
extension ByteBuffer {
    @inlinable
    mutating func readKafkaInteger<T: FixedWidthInteger>(as: T.Type = T.self) throws(KafkaWireError) -> T {
        guard let value = readInteger(as: T.self) else {
            throw .truncated(needed: MemoryLayout<T>.size, available: readableBytes)
        }
        return value
    }

    @inlinable
    mutating func readKafkaBool() throws(KafkaWireError) -> Bool {
        try readKafkaInteger(as: UInt8.self) != 0
    }

    @inlinable
    mutating func readKafkaFloat64() throws(KafkaWireError) -> Double {
        Double(bitPattern: try readKafkaInteger(as: UInt64.self))
    }

    mutating func readKafkaUUID() throws(KafkaWireError) -> KafkaUUID {
        let high = try readKafkaInteger(as: UInt64.self)
        let low = try readKafkaInteger(as: UInt64.self)
        return KafkaUUID(high: high, low: low)
    }

    /// An unsigned LEB128 varint of at most 5 bytes (Kafka's `UNSIGNED_VARINT`).
    @inlinable
    public mutating func readKafkaUnsignedVarint() throws(KafkaWireError) -> UInt32 {
        var result: UInt32 = 0
        var shift: UInt32 = 0
        while true {
            guard let byte = readInteger(as: UInt8.self) else {
                throw .truncated(needed: 1, available: 0)
            }
            if shift == 28 && byte & 0xF0 != 0 { throw .malformedVarint }
            result |= UInt32(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// An unsigned varint of at most 10 bytes.
    @inlinable
    public mutating func readKafkaUnsignedVarlong() throws(KafkaWireError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard let byte = readInteger(as: UInt8.self) else {
                throw .truncated(needed: 1, available: 0)
            }
            if shift == 63 && byte & 0xFE != 0 { throw .malformedVarint }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// A zigzag-encoded signed varint (Kafka's `VARINT`).
    @inlinable
    public mutating func readKafkaVarint() throws(KafkaWireError) -> Int32 {
        let raw = try readKafkaUnsignedVarint()
        return Int32(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    /// A zigzag-encoded signed varlong (Kafka's `VARLONG`).
    @inlinable
    public mutating func readKafkaVarlong() throws(KafkaWireError) -> Int64 {
        let raw = try readKafkaUnsignedVarlong()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    /// The next `length` bytes as a slice sharing this buffer's storage.
    @inlinable
    public mutating func readKafkaSlice(length: Int) throws(KafkaWireError) -> ByteBuffer {
        guard length >= 0 else { throw .invalidLength(length) }
        guard let slice = readSlice(length: length) else {
            throw .truncated(needed: length, available: readableBytes)
        }
        return slice
    }

    /// The length of a string, bytes or array field: nil for null.
    @inlinable
    mutating func readKafkaLength(compact: Bool, classicWidth: Int) throws(KafkaWireError) -> Int? {
        let length: Int
        if compact {
            length = Int(try readKafkaUnsignedVarint()) - 1
        } else if classicWidth == 2 {
            length = Int(try readKafkaInteger(as: Int16.self))
        } else {
            length = Int(try readKafkaInteger(as: Int32.self))
        }
        if length == -1 { return nil }
        guard length >= 0 else { throw .invalidLength(length) }
        return length
    }

    /// `STRING` (int16 length) or `COMPACT_STRING` (unsigned varint length + 1); nil for null.
    /// Invalid UTF-8 is replaced rather than rejected, as the Java client does.
    mutating func readKafkaString(compact: Bool) throws(KafkaWireError) -> String? {
        guard let length = try readKafkaLength(compact: compact, classicWidth: 2) else { return nil }
        guard let string = readString(length: length) else {
            throw .truncated(needed: length, available: readableBytes)
        }
        return string
    }

    /// `BYTES` (int32 length) or `COMPACT_BYTES`, as a slice of this buffer; nil for null.
    mutating func readKafkaBytes(compact: Bool) throws(KafkaWireError) -> ByteBuffer? {
        guard let length = try readKafkaLength(compact: compact, classicWidth: 4) else { return nil }
        return try readKafkaSlice(length: length)
    }

    /// `RECORDS`: a bytes field holding record batches, kept as a slice (no copy).
    mutating func readKafkaRecords(compact: Bool) throws(KafkaWireError) -> RecordSet? {
        try readKafkaBytes(compact: compact).map(RecordSet.init)
    }

    /// `ARRAY` (int32 count) or `COMPACT_ARRAY`; nil for null. A count that the remaining bytes cannot hold, given
    /// the smallest size an element can have, is rejected before anything is allocated.
    @inlinable
    mutating func readKafkaArray<Element>(
        compact: Bool,
        minimumElementSize: Int,
        _ readElement: (inout ByteBuffer) throws(KafkaWireError) -> Element
    ) throws(KafkaWireError) -> [Element]? {
        guard let count = try readKafkaLength(compact: compact, classicWidth: 4) else { return nil }
        guard count <= readableBytes / Swift.max(minimumElementSize, 1) else { throw .invalidLength(count) }
        var elements: [Element] = []
        elements.reserveCapacity(count)
        for _ in 0..<count {
            elements.append(try readElement(&self))
        }
        return elements
    }

    /// A tagged-field section none of whose tags the caller knows.
    public mutating func readKafkaTaggedFields(unknown: inout [TaggedField]) throws(KafkaWireError) {
        let count = try readKafkaUnsignedVarint()
        var previousTag: UInt32?
        for _ in 0..<count {
            unknown.append(try readKafkaTaggedField(after: &previousTag))
        }
    }

    /// One entry of a tagged-field section: its tag and its bytes. `previousTag` is the tag read before in the
    /// same section (nil for the first); a tag that is not above it throws, since tags must strictly ascend.
    public mutating func readKafkaTaggedField(after previousTag: inout UInt32?) throws(KafkaWireError) -> TaggedField {
        let tag = try readKafkaUnsignedVarint()
        if let previousTag, tag <= previousTag { throw .taggedFieldOutOfOrder(tag: tag, previous: previousTag) }
        previousTag = tag
        return TaggedField(tag: tag, data: try readKafkaSlice(length: Int(try readKafkaUnsignedVarint())))
    }
}
