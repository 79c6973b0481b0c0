import CLZ4
import NIOCore

private func lz4Message(_ code: Int) -> String {
    String(cString: LZ4F_getErrorName(code))
}

/// Writes one LZ4 frame in the shape the Java client's LZ4 output stream produces and its input stream
/// requires: version 01, independent blocks, 64 KiB maximum block size, no content size, no block or content
/// checksums, and a header checksum computed the standard way (second byte of xxh32 over the descriptor).
///
/// Java reads exactly one frame per batch, so the whole input always goes into a single frame.
final class LZ4FrameCompressor {
    /// LZ4F treats levels above 12 as 12 and negative ones as "acceleration"; Kafka's configuration allows up
    /// to 17, and liblz4 caps acceleration at 65537.
    static let supportedLevels: ClosedRange<Int> = -65537...17

    /// Reused across calls; liblz4 keeps its hash tables (fast or HC, whichever the last level needed) in it.
    private var context: OpaquePointer?

    init() {}

    deinit {
        if let context {
            LZ4F_freeCompressionContext(context)
        }
    }

    static func resolveLevel(_ level: Int?) throws(CompressionError) -> Int32 {
        guard let level else { return 0 }  // 0 = LZ4F's fast mode, what Java uses for its default level
        guard supportedLevels.contains(level) else {
            throw CompressionError(codec: .lz4, reason: .unsupportedLevel(level))
        }
        return Int32(level)
    }

    private func compressionContext() throws(CompressionError) -> OpaquePointer {
        if let context { return context }
        var created: OpaquePointer?
        let code = LZ4F_createCompressionContext(&created, UInt32(LZ4F_VERSION))
        guard LZ4F_isError(code) == 0, let created else {
            throw .libraryFailure(.lz4, lz4Message(code), code: code)
        }
        context = created
        return created
    }

    func compress(_ input: UnsafeRawBufferPointer, level: Int32, into output: inout ByteBuffer) throws(CompressionError) {
        let context = try compressionContext()
        var preferences = LZ4F_preferences_t()  // all zero: the documented defaults
        preferences.frameInfo.blockSizeID = LZ4F_max64KB
        preferences.frameInfo.blockMode = LZ4F_blockIndependent
        preferences.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum
        preferences.frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum
        preferences.frameInfo.contentSize = 0
        preferences.compressionLevel = level
        preferences.autoFlush = 1  // compress straight from the input instead of copying it into LZ4F's buffer

        // The update bound includes the end mark; the header is at most LZ4F_HEADER_SIZE_MAX.
        let updateBound = LZ4F_compressBound(input.count, &preferences)
        guard LZ4F_isError(updateBound) == 0 else { throw .libraryFailure(.lz4, lz4Message(updateBound), code: updateBound) }
        let bound = Int(LZ4F_HEADER_SIZE_MAX) + updateBound

        var failure: CompressionError?
        output.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { buffer in
            let destination = buffer.baseAddress!
            var written = 0
            func step(_ result: Int) -> Bool {
                if LZ4F_isError(result) != 0 {
                    failure = .libraryFailure(.lz4, lz4Message(result), code: result)
                    return false
                }
                written += result
                return true
            }
            guard step(LZ4F_compressBegin(context, destination, buffer.count, &preferences)),
                step(LZ4F_compressUpdate(
                    context, destination + written, buffer.count - written, input.nonNullBase, input.count, nil
                )),
                step(LZ4F_compressEnd(context, destination + written, buffer.count - written, nil))
            else { return 0 }
            return written
        }
        if let failure { throw failure }
    }
}

/// Reads any sequence of LZ4 frames (with or without content size and checksums, independent or linked
/// blocks, skippable frames) through LZ4F's streaming decoder into a bounded output.
final class LZ4FrameDecompressor {
    private var context: OpaquePointer?
    /// Whether the last call ended on a frame boundary. liblz4 1.9.x's reset does not clear the remaining
    /// content size of an abandoned frame, so after a failure the context is replaced rather than reset.
    private var atFrameBoundary = true

    private static let frameMagic: UInt32 = 0x184D_2204

    init() {}

    deinit {
        if let context {
            LZ4F_freeDecompressionContext(context)
        }
    }

    private func decompressionContext() throws(CompressionError) -> OpaquePointer {
        if let context {
            if atFrameBoundary {
                LZ4F_resetDecompressionContext(context)
                return context
            }
            LZ4F_freeDecompressionContext(context)
            self.context = nil
        }
        var created: OpaquePointer?
        let code = LZ4F_createDecompressionContext(&created, UInt32(LZ4F_VERSION))
        guard LZ4F_isError(code) == 0, let created else {
            throw .libraryFailure(.lz4, lz4Message(code), code: code)
        }
        context = created
        return created
    }

    /// The first frame's declared content size when its descriptor carries one, else a guess.
    private static func sizeHint(_ input: UnsafeRawBufferPointer) -> Int {
        let guess = max(input.count * 4, OutputBudget.minimumRequest)
        guard input.count >= 15,
            UInt32(littleEndian: input.loadUnaligned(as: UInt32.self)) == frameMagic,
            input[4] & 0x08 != 0
        else { return guess }
        let declared = Int(clamping: UInt64(littleEndian: input.loadUnaligned(fromByteOffset: 6, as: UInt64.self)))
        // An LZ4 sequence expands by at most about 255:1, so a larger declared size is not believed.
        let plausible = input.count.multipliedReportingOverflow(by: 255)
        return plausible.overflow ? declared : min(declared, plausible.partialValue + 64 * 1024)
    }

    func decompress(
        _ input: UnsafeRawBufferPointer,
        maxOutputBytes: Int,
        into output: inout ByteBuffer
    ) throws(CompressionError) {
        guard !input.isEmpty else { throw .corruptInput(.lz4, "empty input") }
        let context = try decompressionContext()
        atFrameBoundary = false
        var budget = OutputBudget(codec: .lz4, limit: maxOutputBytes, output: output, sizeHint: Self.sizeHint(input))
        let source = input.nonNullBase
        var consumed = 0
        var stalls = 0
        while true {
            var hint = 0
            var consumedNow = 0
            let (written, window) = try budget.write(into: &output) { buffer in
                var destinationSize = buffer.count
                var sourceSize = input.count - consumed
                hint = LZ4F_decompress(context, buffer.baseAddress, &destinationSize, source + consumed, &sourceSize, nil)
                consumedNow = sourceSize
                return LZ4F_isError(hint) == 0 ? destinationSize : 0
            }
            if LZ4F_isError(hint) != 0 {
                let message = lz4Message(hint)
                if message.contains("allocation") { throw .libraryFailure(.lz4, message, code: hint) }
                throw .corruptInput(.lz4, message)
            }
            try budget.checkLimit(output)
            consumed += consumedNow
            if hint == 0 {
                // A frame ended; another may follow.
                if consumed == input.count {
                    atFrameBoundary = true
                    return
                }
            } else if consumed == input.count && written < window {
                throw .corruptInput(.lz4, "truncated frame")
            }
            stalls = (written == 0 && consumedNow == 0) ? stalls + 1 : 0
            if stalls > 1 { throw .corruptInput(.lz4, "decoder made no progress") }
        }
    }
}
