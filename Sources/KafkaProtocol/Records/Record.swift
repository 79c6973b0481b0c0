import NIOCore

/// One record read from a batch. Key, value and header values are slices of the batch's (decompressed) bytes:
/// reading a record copies nothing.
public struct Record: Sendable, Hashable {
    /// The record's offset in its partition.
    public var offset: Int64
    /// Milliseconds since the epoch.
    public var timestamp: Int64
    /// The key; nil for a null key.
    public var key: ByteBuffer?
    /// The value; nil for a null value (a tombstone).
    public var value: ByteBuffer?
    /// The encoded header section, parsed on demand by ``headers``.
    public var rawHeaders: RecordHeaders

    /// The headers, decoded into an array.
    public var headers: [RecordHeader] { Array(rawHeaders) }
}

/// A record header: a string key and optional bytes.
public struct RecordHeader: Sendable, Hashable {
    /// The header's name; a record may repeat it.
    public var key: String
    /// The header's bytes; nil for a null value.
    public var value: ByteBuffer?

    /// A header with these bytes (nil: a null value).
    public init(key: String, value: ByteBuffer?) {
        self.key = key
        self.value = value
    }

    /// A header whose value is the string's UTF-8 bytes.
    public init(key: String, value: String) {
        self.init(key: key, value: ByteBuffer(string: value))
    }
}

/// The headers of a record, kept encoded until iterated (most consumers never look at them).
/// The batch decoder has already checked that the section is well formed.
public struct RecordHeaders: Sequence, Sendable, Hashable {
    /// How many headers the record has (a key may appear more than once).
    public let count: Int
    /// Whether the record has no headers.
    public var isEmpty: Bool { count == 0 }
    /// nil when there are none, so header-less records (the common case) hold no extra reference.
    let encoded: ByteBuffer?

    init(count: Int, encoded: ByteBuffer) {
        self.count = count
        self.encoded = count == 0 ? nil : encoded
    }

    private init() {
        count = 0
        encoded = nil
    }

    /// No headers.
    public static var empty: RecordHeaders { RecordHeaders() }

    /// Headers made from values (to build a record by hand, in tests of code that handles records).
    public init(_ headers: [RecordHeader]) {
        var encoded = ByteBuffer()
        for header in headers {
            encoded.writeKafkaVarint(Int32(header.key.utf8.count))
            encoded.writeString(header.key)
            if var value = header.value {
                encoded.writeKafkaVarint(Int32(value.readableBytes))
                encoded.writeBuffer(&value)
            } else {
                encoded.writeKafkaVarint(-1)
            }
        }
        self.init(count: headers.count, encoded: encoded)
    }

    /// The value of the last header named `key` (Kafka allows repeats; the last one wins, as in Java's
    /// `Headers.lastHeader`), or nil when there is none or its value is null.
    public subscript(key: String) -> ByteBuffer? {
        var found: ByteBuffer?
        for header in self where header.key == key { found = header.value }
        return found
    }

    /// The values of every header named `key`, in order.
    public func values(forKey key: String) -> [ByteBuffer?] {
        compactMap { $0.key == key ? .some($0.value) : nil }
    }

    /// Decodes the headers one at a time.
    public struct Iterator: IteratorProtocol {
        var remaining: Int
        var buffer: ByteBuffer?

        /// The next header; nil after the last.
        public mutating func next() -> RecordHeader? {
            guard remaining > 0, buffer != nil else { return nil }
            remaining -= 1
            // Validated when the record was read, so these reads cannot fail.
            guard let header = try? RecordHeaders.readHeader(&buffer!) else { return nil }
            return header
        }
    }

    /// An iterator over the headers, in the order they were written.
    public func makeIterator() -> Iterator {
        Iterator(remaining: count, buffer: encoded)
    }

    static func readHeader(_ buffer: inout ByteBuffer) throws -> RecordHeader {
        let keyLength = Int(try buffer.readKafkaVarint())
        guard keyLength >= 0, let key = buffer.readString(length: keyLength) else {
            throw RecordBatchError.corrupt("bad header key length \(keyLength)")
        }
        let valueLength = Int(try buffer.readKafkaVarint())
        if valueLength == -1 { return RecordHeader(key: key, value: nil) }
        guard valueLength >= 0, let value = buffer.readSlice(length: valueLength) else {
            throw RecordBatchError.corrupt("bad header value length \(valueLength)")
        }
        return RecordHeader(key: key, value: value)
    }
}
