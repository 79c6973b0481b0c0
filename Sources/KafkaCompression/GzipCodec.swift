import CZlib
import NIOCore

/// zlib's windowBits for a 32 KiB window; +16 selects the gzip wrapper, +32 detects gzip or zlib when reading.
private let windowBits: Int32 = 15
private let gzipWrapper: Int32 = 16
private let autoDetectWrapper: Int32 = 32

/// A failed zlib set-up or reset call; these fail only for memory or version problems, never for bad data.
private func zlibInitFailure(_ code: Int32, _ stream: UnsafeMutablePointer<z_stream>) -> CompressionError {
    .libraryFailure(.gzip, zlibMessage(code, stream), code: Int(code))
}

private func zlibMessage(_ code: Int32, _ stream: UnsafeMutablePointer<z_stream>) -> String {
    if let message = stream.pointee.msg {
        return String(cString: message)
    }
    return String(cString: zError(code))
}

/// One deflate stream with the gzip wrapper, reset between calls so zlib's state (about 256 KiB) is
/// allocated once per workspace rather than once per batch.
final class GzipDeflater {
    static let supportedLevels: ClosedRange<Int> = -1...9

    /// Heap-allocated because zlib keeps a pointer back to the z_stream and refuses one that moved.
    private let stream: UnsafeMutablePointer<z_stream>
    private var initialized = false
    private var currentLevel: Int32 = Z_DEFAULT_COMPRESSION

    init() {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
    }

    deinit {
        if initialized {
            deflateEnd(stream)
        }
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    static func resolveLevel(_ level: Int?) throws(CompressionError) -> Int32 {
        guard let level else { return Z_DEFAULT_COMPRESSION }
        guard supportedLevels.contains(level) else {
            throw CompressionError(codec: .gzip, reason: .unsupportedLevel(level))
        }
        return Int32(level)
    }

    private func prepare(level: Int32) throws(CompressionError) {
        if !initialized {
            let code = deflateInit2_(
                stream, level, Z_DEFLATED, windowBits + gzipWrapper, 8, Z_DEFAULT_STRATEGY,
                zlibVersion(), Int32(MemoryLayout<z_stream>.size)
            )
            guard code == Z_OK else { throw zlibInitFailure(code, stream) }
            initialized = true
            currentLevel = level
            return
        }
        let reset = deflateReset(stream)
        guard reset == Z_OK else { throw zlibInitFailure(reset, stream) }
        if level != currentLevel {
            // Right after a reset nothing is pending, so changing parameters emits nothing.
            let code = deflateParams(stream, level, Z_DEFAULT_STRATEGY)
            guard code == Z_OK else { throw zlibInitFailure(code, stream) }
            currentLevel = level
        }
    }

    func compress(_ input: UnsafeRawBufferPointer, level: Int32, into output: inout ByteBuffer) throws(CompressionError) {
        try prepare(level: level)
        let stream = self.stream
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.nonNullBase.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)  // caller bounds input.count by Int32.max
        defer {
            stream.pointee.next_in = nil
            stream.pointee.next_out = nil
        }

        // deflateBound covers the gzip header and trailer; one pass normally finishes. The loop only guards
        // against the bound being short, which zlib does not promise for every parameter combination.
        var request = Int(clamping: deflateBound(stream, uLong(input.count)))
        var finished = false
        var failure: CompressionError?
        var stalls = 0
        while !finished {
            let written = output.writeWithUnsafeMutableBytes(minimumWritableBytes: request) { buffer in
                let window = min(buffer.count, Int(UInt32.max))
                stream.pointee.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(window)
                let code = deflate(stream, Z_FINISH)
                switch code {
                case Z_STREAM_END: finished = true
                case Z_OK, Z_BUF_ERROR: break
                default: failure = .libraryFailure(.gzip, zlibMessage(code, stream), code: Int(code))
                }
                return window - Int(stream.pointee.avail_out)
            }
            if let failure { throw failure }
            stalls = written == 0 ? stalls + 1 : 0
            if stalls > 1 { throw .libraryFailure(.gzip, "deflate made no progress") }
            request = 64 * 1024
        }
    }
}

/// One inflate stream that reads gzip or zlib data, reset between calls.
final class GzipInflater {
    private let stream: UnsafeMutablePointer<z_stream>
    private var initialized = false

    /// Deflate cannot expand data by more than about 1032:1, so a declared size beyond that is a lie.
    private static let maximumRatio = 1032

    init() {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
    }

    deinit {
        if initialized {
            inflateEnd(stream)
        }
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    private func prepare() throws(CompressionError) {
        if !initialized {
            let code = inflateInit2_(
                stream, windowBits + autoDetectWrapper, zlibVersion(), Int32(MemoryLayout<z_stream>.size)
            )
            guard code == Z_OK else { throw zlibInitFailure(code, stream) }
            initialized = true
        } else {
            let code = inflateReset(stream)
            guard code == Z_OK else { throw zlibInitFailure(code, stream) }
        }
    }

    /// The size gzip's trailer declares (ISIZE, modulo 2^32, of the last member), used only to size the
    /// first output reservation.
    private static func sizeHint(_ input: UnsafeRawBufferPointer) -> Int {
        let guess = max(input.count * 4, OutputBudget.minimumRequest)
        guard input.count >= 18, input[0] == 0x1F, input[1] == 0x8B else { return guess }
        let declared = Int(UInt32(littleEndian: input.loadUnaligned(fromByteOffset: input.count - 4, as: UInt32.self)))
        let plausible = input.count.multipliedReportingOverflow(by: maximumRatio)
        return plausible.overflow ? declared : min(declared, plausible.partialValue)
    }

    func decompress(
        _ input: UnsafeRawBufferPointer,
        maxOutputBytes: Int,
        into output: inout ByteBuffer
    ) throws(CompressionError) {
        guard !input.isEmpty else { throw .corruptInput(.gzip, "empty input") }
        try prepare()
        let stream = self.stream
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.nonNullBase.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        defer {
            stream.pointee.next_in = nil
            stream.pointee.next_out = nil
        }

        var budget = OutputBudget(codec: .gzip, limit: maxOutputBytes, output: output, sizeHint: Self.sizeHint(input))
        var stalls = 0
        while true {
            var code: Int32 = Z_OK
            let availableBefore = stream.pointee.avail_in
            let (written, window) = try budget.write(into: &output, maxWindow: Int(UInt32.max)) { buffer in
                stream.pointee.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(buffer.count)
                code = inflate(stream, Z_NO_FLUSH)
                return buffer.count - Int(stream.pointee.avail_out)
            }
            try budget.checkLimit(output)
            let outputFull = written == window
            switch code {
            case Z_STREAM_END:
                let rest = Int(stream.pointee.avail_in)
                if rest == 0 { return }
                // Some writers pad a gzip stream with zero bytes; anything else must be another member.
                let restStart = input.count - rest
                if input[restStart...].allSatisfy({ $0 == 0 }) { return }
                let reset = inflateReset(stream)
                guard reset == Z_OK else { throw zlibInitFailure(reset, stream) }
            case Z_OK, Z_BUF_ERROR:
                if stream.pointee.avail_in == 0 && !outputFull {
                    throw .corruptInput(.gzip, "truncated stream")
                }
            case Z_NEED_DICT:
                throw .corruptInput(.gzip, "stream needs a preset dictionary")
            case Z_DATA_ERROR:
                throw .corruptInput(.gzip, zlibMessage(code, stream))
            default:
                throw .libraryFailure(.gzip, zlibMessage(code, stream), code: Int(code))
            }
            // Every successful inflate call consumes input or produces output; two idle calls in a row mean
            // zlib is stuck and looping further would never end.
            let idle = written == 0 && stream.pointee.avail_in == availableBefore
            stalls = idle ? stalls + 1 : 0
            if stalls > 1 { throw .corruptInput(.gzip, "decoder made no progress") }
        }
    }
}
