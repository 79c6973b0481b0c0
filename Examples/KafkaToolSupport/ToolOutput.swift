#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The command-line tools leave Foundation out: linked into a tool, its libraries and the conformance tables they
// bring cost every run about 2 ms of start-up, which a benchmark timing the whole process sees. These functions
// are all the tools used it for.

/// `value` with `decimals` digits after the point, as printf's `%.<decimals>f` writes it ("0.30", "1234").
public func fixed(_ value: Double, _ decimals: Int) -> String {
    // The longest a double can print is about 310 digits before the point.
    withUnsafeTemporaryAllocation(of: CChar.self, capacity: 400) { buffer in
        let written = withVaList([Int32(clamping: decimals), value]) { arguments in
            vsnprintf(buffer.baseAddress!, buffer.count, "%.*f", arguments)
        }
        guard written >= 0 else { return "\(value)" }
        return String(decoding: UnsafeRawBufferPointer(start: buffer.baseAddress!, count: min(Int(written), buffer.count - 1)),
                      as: UTF8.self)
    }
}

/// Writes `text` to standard error, unbuffered (progress and summaries go there, standard output carries records).
public func writeToStandardError(_ text: String) {
    var text = text
    text.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let written = write(2, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += written
        }
    }
}

/// Ends the process with `status` (C's `exit`, which a `ParsableCommand`'s own `exit(withError:)` hides).
public func exitProcess(_ status: Int32) -> Never {
    exit(status)
}
