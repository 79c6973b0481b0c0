import CZstd
import NIOCore

private func zstdMessage(_ code: Int) -> String {
    String(cString: ZSTD_getErrorName(code))
}

/// zstd_errors.h (with the numeric codes) is not part of the module, so allocation failures ("Allocation
/// error : not enough memory") are told apart from bad input by the library's message. A frame asking for
/// a window beyond libzstd's default cap (128 MiB) is bad input.
private func zstdDecodeFailure(_ code: Int) -> CompressionError {
    let message = zstdMessage(code)
    if message.contains("Allocation") {
        return .libraryFailure(.zstd, message, code: code)
    }
    return .corruptInput(.zstd, message)
}

/// Compresses whole inputs with one cached compression context; ZSTD_compress2 records the content size in
/// the frame header, which lets readers size their output exactly.
final class ZstdCompressor {
    static let supportedLevels: ClosedRange<Int> = Int(ZSTD_minCLevel())...Int(ZSTD_maxCLevel())

    private var context: OpaquePointer?
    /// The level last set on the context; parameters stick across ZSTD_compress2 calls.
    private var currentLevel: Int32?

    init() {}

    deinit {
        if let context {
            ZSTD_freeCCtx(context)
        }
    }

    static func resolveLevel(_ level: Int?) throws(CompressionError) -> Int32 {
        guard let level else { return Int32(ZSTD_CLEVEL_DEFAULT) }
        guard supportedLevels.contains(level) else {
            throw CompressionError(codec: .zstd, reason: .unsupportedLevel(level))
        }
        return Int32(level)
    }

    private func compressionContext(level: Int32) throws(CompressionError) -> OpaquePointer {
        let context: OpaquePointer
        if let existing = self.context {
            context = existing
        } else {
            guard let created = ZSTD_createCCtx() else {
                throw .libraryFailure(.zstd, "ZSTD_createCCtx failed")
            }
            self.context = created
            context = created
        }
        if currentLevel != level {
            let code = ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
            guard ZSTD_isError(code) == 0 else { throw .libraryFailure(.zstd, zstdMessage(code), code: code) }
            currentLevel = level
        }
        return context
    }

    func compress(_ input: UnsafeRawBufferPointer, level: Int32, into output: inout ByteBuffer) throws(CompressionError) {
        let context = try compressionContext(level: level)
        let bound = ZSTD_compressBound(input.count)
        guard ZSTD_isError(bound) == 0 else {
            throw CompressionError(codec: .zstd, reason: .inputTooLarge(byteCount: input.count))
        }
        var failure: CompressionError?
        output.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { buffer in
            let result = ZSTD_compress2(context, buffer.baseAddress, buffer.count, input.nonNullBase, input.count)
            guard ZSTD_isError(result) == 0 else {
                // The session is reset by the next ZSTD_compress2, so the context stays usable.
                failure = .libraryFailure(.zstd, zstdMessage(result), code: result)
                return 0
            }
            return result
        }
        if let failure { throw failure }
    }
}

/// Streams any sequence of zstd frames (with or without content size, skippable frames included) through a
/// cached decompression context into a bounded output.
final class ZstdDecompressor {
    private var context: OpaquePointer?

    init() {}

    deinit {
        if let context {
            ZSTD_freeDCtx(context)
        }
    }

    private func decompressionContext() throws(CompressionError) -> OpaquePointer {
        if let context {
            // A previous call may have stopped mid-frame (bad input or the limit).
            let code = ZSTD_DCtx_reset(context, ZSTD_reset_session_only)
            guard ZSTD_isError(code) == 0 else { throw .libraryFailure(.zstd, zstdMessage(code), code: code) }
            return context
        }
        guard let created = ZSTD_createDCtx() else {
            throw .libraryFailure(.zstd, "ZSTD_createDCtx failed")
        }
        context = created
        return created
    }

    /// A zstd block of at most 128 KiB can come from 4 input bytes (an RLE block), so no honest frame expands
    /// by more than this; a larger declared size is not believed.
    private static let maximumRatio = 32 * 1024

    /// The first frame's declared content size when it has one, else a guess.
    private static func sizeHint(_ input: UnsafeRawBufferPointer) -> Int {
        let declared = ZSTD_getFrameContentSize(input.nonNullBase, input.count)
        // Both sentinels (unknown, error) are at the top of the UInt64 range.
        if declared >= ZSTD_CONTENTSIZE_ERROR {
            return max(input.count * 4, OutputBudget.minimumRequest)
        }
        let plausible = input.count.multipliedReportingOverflow(by: maximumRatio)
        return plausible.overflow ? Int(clamping: declared) : min(Int(clamping: declared), plausible.partialValue)
    }

    func decompress(
        _ input: UnsafeRawBufferPointer,
        maxOutputBytes: Int,
        into output: inout ByteBuffer
    ) throws(CompressionError) {
        guard !input.isEmpty else { throw .corruptInput(.zstd, "empty input") }
        let context = try decompressionContext()
        var budget = OutputBudget(codec: .zstd, limit: maxOutputBytes, output: output, sizeHint: Self.sizeHint(input))
        var source = ZSTD_inBuffer(src: input.nonNullBase, size: input.count, pos: 0)
        var stalls = 0
        while true {
            var result = 0
            let consumedBefore = source.pos
            let (written, window) = try budget.write(into: &output) { buffer in
                var destination = ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
                result = ZSTD_decompressStream(context, &destination, &source)
                return ZSTD_isError(result) == 0 ? destination.pos : 0
            }
            if ZSTD_isError(result) != 0 { throw zstdDecodeFailure(result) }
            try budget.checkLimit(output)
            let inputDone = source.pos == source.size
            if result == 0 {
                // A frame ended and is fully flushed; another may follow.
                if inputDone { return }
            } else if inputDone && written < window {
                throw .corruptInput(.zstd, "truncated frame")
            }
            stalls = (written == 0 && source.pos == consumedBefore) ? stalls + 1 : 0
            if stalls > 1 { throw .corruptInput(.zstd, "decoder made no progress") }
        }
    }
}
