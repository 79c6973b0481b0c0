#if canImport(Glibc)
import Glibc
#endif
import KafkaClient
import NIOCore

/// How records are printed: `value`, `kv` (key, a tab, value) or `json` (one object per line).
enum OutputFormat: String, Sendable {
    case value, kv, json
}

/// Records written to stdout as bytes, a large chunk at a time, with no `String` made per record. Small values
/// are copied into the output; a value of `borrowThreshold` bytes or more is not copied at all: it is written
/// (`writev`) from the buffer it was fetched into, between the copied bytes around it.
struct RecordOutput {
    private let format: OutputFormat
    /// The bytes made here: separators, small values, JSON.
    private var pending: [UInt8] = []
    /// Large values to write where they lie, in order: each goes out after `pending[..<offset]`.
    private var borrowed: [(offset: Int, bytes: ByteBuffer)] = []
    private var borrowedBytes = 0
    private static let chunk = 256 * 1024
    static let borrowThreshold = 2048
    /// At most this many borrowed values per flush: two iovecs each stays far below IOV_MAX (1024).
    private static let maxBorrowed = 256

    init(format: OutputFormat) {
        self.format = format
        pending.reserveCapacity(Self.chunk + 64 * 1024)
        borrowed.reserveCapacity(Self.maxBorrowed)
    }

    mutating func append(_ record: ConsumerRecord) {
        switch format {
        case .value:
            appendRaw(record.value)
        case .kv:
            appendRaw(record.key)
            pending.append(UInt8(ascii: "\t"))
            appendRaw(record.value)
        case .json:
            appendJSON(record)
        }
        pending.append(UInt8(ascii: "\n"))
        if pending.count + borrowedBytes >= Self.chunk || borrowed.count >= Self.maxBorrowed { flush() }
    }

    mutating func flush() {
        if borrowed.isEmpty {
            pending.withUnsafeBytes { Self.writeAll([iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count)]) }
        } else {
            pending.withUnsafeBytes { made in
                var vectors: [iovec] = []
                vectors.reserveCapacity(2 * borrowed.count + 1)
                var written = 0
                func addMade(upTo end: Int) {
                    if end > written, let base = made.baseAddress {
                        vectors.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: base + written), iov_len: end - written))
                    }
                    written = end
                }
                for (offset, bytes) in borrowed {
                    addMade(upTo: offset)
                    // The pointer is used after the closure returns: `borrowed` holds the buffer (and so its
                    // storage, which does not move while nothing writes to it) until the write below is done.
                    bytes.withUnsafeReadableBytes { value in
                        vectors.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: value.baseAddress), iov_len: value.count))
                    }
                }
                addMade(upTo: made.count)
                Self.writeAll(vectors)
            }
        }
        pending.removeAll(keepingCapacity: true)
        borrowed.removeAll(keepingCapacity: true)
        borrowedBytes = 0
    }

    /// Writes every byte the vectors point at to stdout (retrying short writes and EINTR); stops if stdout is
    /// closed.
    private static func writeAll(_ vectors: [iovec]) {
        var vectors = vectors.filter { $0.iov_len > 0 }
        var first = 0
        while first < vectors.count {
            let result = vectors[first...].withUnsafeBufferPointer { writev(1, $0.baseAddress, Int32($0.count)) }
            if result <= 0 {
                if result < 0 && errno == EINTR { continue }
                return // stdout closed: nothing more can be printed
            }
            var done = result
            while first < vectors.count, done >= vectors[first].iov_len {
                done -= vectors[first].iov_len
                first += 1
            }
            if first < vectors.count, done > 0 {
                vectors[first].iov_base += done
                vectors[first].iov_len -= done
            }
        }
    }

    /// The bytes as they are, or `null`.
    private mutating func appendRaw(_ bytes: ByteBuffer?) {
        guard let bytes else {
            pending.append(contentsOf: "null".utf8)
            return
        }
        if bytes.readableBytes >= Self.borrowThreshold {
            borrowed.append((pending.count, bytes))
            borrowedBytes += bytes.readableBytes
        } else {
            bytes.withUnsafeReadableBytes { pending.append(contentsOf: $0) }
        }
    }

    // MARK: - JSON

    private mutating func appendJSON(_ record: ConsumerRecord) {
        // Keys in sorted order, as the previous output (JSONSerialization with .sortedKeys) had them.
        pending.append(contentsOf: #"{"headers":["#.utf8)
        var first = true
        for header in record.headers {
            if !first { pending.append(UInt8(ascii: ",")) }
            first = false
            pending.append(contentsOf: #"{"key":"#.utf8)
            appendJSONString(header.key)
            pending.append(contentsOf: #","value":"#.utf8)
            appendJSONString(header.value)
            pending.append(UInt8(ascii: "}"))
        }
        pending.append(contentsOf: #"],"key":"#.utf8)
        appendJSONString(record.key)
        pending.append(contentsOf: #","offset":"#.utf8)
        appendNumber(record.offset)
        pending.append(contentsOf: #","partition":"#.utf8)
        appendNumber(Int64(record.partition))
        pending.append(contentsOf: #","timestamp":"#.utf8)
        appendNumber(record.timestamp)
        pending.append(contentsOf: #","topic":"#.utf8)
        appendJSONString(record.topic)
        pending.append(contentsOf: #","value":"#.utf8)
        appendJSONString(record.value)
        pending.append(UInt8(ascii: "}"))
    }

    /// Decimal digits written in place (no `String` per number).
    private mutating func appendNumber(_ value: Int64) {
        if value < 0 { pending.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0) // 24 bytes: room for the 20 digits of any Int64
        let count = withUnsafeMutableBytes(of: &digits) { buffer -> Int in
            var end = buffer.count
            repeat {
                end -= 1
                buffer[end] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            return end
        }
        withUnsafeBytes(of: &digits) { pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[count...])) }
    }

    private mutating func appendJSONString(_ string: String) {
        var string = string
        string.withUTF8 { appendJSONString(UnsafeRawBufferPointer($0), validUTF8: true) }
    }

    private mutating func appendJSONString(_ bytes: ByteBuffer?) {
        guard let bytes else {
            pending.append(contentsOf: "null".utf8)
            return
        }
        bytes.withUnsafeReadableBytes { appendJSONString($0, validUTF8: false) }
    }

    /// A JSON string: quotes, backslashes and control characters escaped. Bytes that are not UTF-8 are replaced
    /// (U+FFFD), as `String(decoding:as:)` would, so the output stays valid JSON whatever the record holds.
    private mutating func appendJSONString(_ bytes: UnsafeRawBufferPointer, validUTF8: Bool) {
        pending.append(UInt8(ascii: "\""))
        if !validUTF8 && bytes.contains(where: { $0 >= 0x80 }) {
            let repaired = String(decoding: bytes, as: UTF8.self)
            var copy = repaired
            copy.withUTF8 { appendEscaped(UnsafeRawBufferPointer($0)) }
        } else {
            appendEscaped(bytes)
        }
        pending.append(UInt8(ascii: "\""))
    }

    private mutating func appendEscaped(_ bytes: UnsafeRawBufferPointer) {
        var runStart = 0
        for (index, byte) in bytes.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<index]))
            switch byte {
            case UInt8(ascii: "\""): pending.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): pending.append(contentsOf: #"\\"#.utf8)
            case UInt8(ascii: "\n"): pending.append(contentsOf: #"\n"#.utf8)
            case UInt8(ascii: "\r"): pending.append(contentsOf: #"\r"#.utf8)
            case UInt8(ascii: "\t"): pending.append(contentsOf: #"\t"#.utf8)
            default:
                let hex = Array("0123456789abcdef".utf8)
                pending.append(contentsOf: #"\u00"#.utf8)
                pending.append(hex[Int(byte >> 4)])
                pending.append(hex[Int(byte & 0xF)])
            }
            runStart = index + 1
        }
        pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart...]))
    }
}
