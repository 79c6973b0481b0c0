/// Where the parts of one encoded record lie, read in a single pass over raw bytes. Going through `ByteBuffer`'s
/// accessors field by field costs a bounds check and an exclusivity check each, per record; the record path
/// reads this instead and then takes the key, value and header slices at the offsets found.
struct RecordFraming {
    /// The fewest bytes a record takes: its length, attributes, timestamp and offset deltas, key and value
    /// lengths and header count, one byte each. Record counts read from headers are checked against it before
    /// anything is sized from them.
    static let minimumSize = 7

    /// Bytes of the whole record, its length prefix included.
    var size: Int
    var timestampDelta: Int64
    var offsetDelta: Int32
    /// Offsets from the start of the record; a length of -1 is null.
    var keyStart: Int
    var keyLength: Int
    var valueStart: Int
    var valueLength: Int
    var headersStart: Int
    var headersLength: Int
    var headerCount: Int

    /// Parses the record at the start of `bytes`, checking every length against the record's own.
    @inline(__always)
    static func parse(_ bytes: UnsafeRawBufferPointer) throws(RecordBatchError) -> RecordFraming {
        var cursor = RawCursor(bytes: bytes, index: 0, end: bytes.count)
        let length = Int(try cursor.varint())
        guard length > 0, length <= cursor.end - cursor.index else {
            throw .corrupt("record length \(length) with \(cursor.end - cursor.index) bytes left")
        }
        cursor.end = cursor.index + length
        try cursor.skip(1) // record attributes: unused
        let timestampDelta = try cursor.varint()
        let offsetDelta = try cursor.varint()
        guard let offsetDelta32 = Int32(exactly: offsetDelta) else { throw .corrupt("offset delta \(offsetDelta)") }
        let keyLength = try cursor.fieldLength()
        let keyStart = cursor.index
        try cursor.skip(max(keyLength, 0))
        let valueLength = try cursor.fieldLength()
        let valueStart = cursor.index
        try cursor.skip(max(valueLength, 0))
        let headerCount = try cursor.varint()
        guard headerCount >= 0, headerCount <= (cursor.end - cursor.index) / 2 else {
            throw .corrupt("header count \(headerCount)")
        }
        let headersStart = cursor.index
        for _ in 0..<headerCount {
            let keyLength = try cursor.fieldLength()
            guard keyLength >= 0 else { throw .corrupt("null header key") }
            try cursor.skip(keyLength)
            try cursor.skip(max(try cursor.fieldLength(), 0))
        }
        guard cursor.index == cursor.end else {
            throw .corrupt("\(cursor.end - cursor.index) bytes left inside a record")
        }
        return RecordFraming(size: cursor.end, timestampDelta: timestampDelta, offsetDelta: offsetDelta32,
                             keyStart: keyStart, keyLength: keyLength, valueStart: valueStart, valueLength: valueLength,
                             headersStart: headersStart, headersLength: cursor.end - headersStart, headerCount: Int(headerCount))
    }
}

/// Reads varints and skips bytes within `index..<end` of a raw buffer; running past `end` is a corrupt record.
/// Everything here is inlined into `parse` (a broker walks every produced record with it, a consumer every
/// fetched one); the errors are made out of line, where building their messages costs nothing on the way through.
private struct RawCursor {
    let bytes: UnsafeRawBufferPointer
    var index: Int
    var end: Int

    /// A zigzag varint of at most 10 bytes (Kafka's VARINT and VARLONG). One and two bytes, the common cases
    /// (record lengths and deltas of small records), are read inline.
    @inline(__always)
    mutating func varint() throws(RecordBatchError) -> Int64 {
        guard index < end else { throw Self.truncatedVarint() }
        let first = bytes[index]
        if first & 0x80 == 0 {
            index &+= 1
            return Self.zigzag(UInt64(first))
        }
        if index &+ 1 < end {
            let second = bytes[index &+ 1]
            if second & 0x80 == 0 {
                index &+= 2
                return Self.zigzag(UInt64(first & 0x7F) | UInt64(second) << 7)
            }
        }
        return try longVarint()
    }

    @inline(__always)
    private static func zigzag(_ raw: UInt64) -> Int64 {
        Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    /// A varint of three bytes or more (or a truncated one), from `index`.
    @inline(never)
    private mutating func longVarint() throws(RecordBatchError) -> Int64 {
        var raw: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard index < end else { throw Self.truncatedVarint() }
            let byte = bytes[index]
            index &+= 1
            if shift == 63 && byte & 0xFE != 0 { throw .corrupt("varint too long") }
            raw |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { break }
            shift += 7
        }
        return Self.zigzag(raw)
    }

    /// A field's length: -1 for null, otherwise one that fits before `end`.
    @inline(__always)
    mutating func fieldLength() throws(RecordBatchError) -> Int {
        let length = try varint()
        guard length >= -1, length <= Int64(end &- index) else { throw Self.badLength(length, left: end &- index) }
        return Int(length)
    }

    @inline(__always)
    mutating func skip(_ count: Int) throws(RecordBatchError) {
        guard count <= end &- index else { throw Self.pastEnd() }
        index &+= count
    }

    @inline(never)
    private static func truncatedVarint() -> RecordBatchError { .corrupt("truncated varint") }

    @inline(never)
    private static func badLength(_ length: Int64, left: Int) -> RecordBatchError {
        .corrupt("field length \(length) with \(left) bytes left")
    }

    @inline(never)
    private static func pastEnd() -> RecordBatchError { .corrupt("field runs past the record") }
}
