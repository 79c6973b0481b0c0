import NIOCore

/// Reusable scratch state for compressing and decompressing Kafka record data.
///
/// A workspace keeps each codec's library context (zlib streams, LZ4 frame contexts, zstd contexts) after
/// first use, so a loop over many batches does not set one up per batch. Contexts are created lazily: a
/// workspace that only ever sees zstd never allocates zlib state.
///
/// A workspace is not thread-safe and not `Sendable`: give each task or thread its own.
///
/// Output is appended at the output buffer's writer index. On failure the output's writer index is put
/// back where it was, so a failed call leaves no partial data behind.
///
/// The codecs follow what the Java client, librdkafka and kafka-python exchange:
/// - gzip writes a gzip stream (deflate, default level 6) and reads gzip or zlib streams, including
///   several concatenated gzip members.
/// - snappy writes the xerial framing Java writes (32 KiB chunks) and reads it or raw snappy.
/// - lz4 writes one LZ4 frame the way Java's `Lz4BlockOutputStream` does (independent 64 KiB blocks, no
///   checksums, no content size) and reads any valid frames.
/// - zstd writes one frame with its content size and reads any frames.
public final class CompressionWorkspace {
    private var gzipDeflater: GzipDeflater?
    private var gzipInflater: GzipInflater?
    private var lz4Compressor: LZ4FrameCompressor?
    private var lz4Decompressor: LZ4FrameDecompressor?
    private var zstdCompressor: ZstdCompressor?
    private var zstdDecompressor: ZstdDecompressor?

    /// Creates an empty workspace. Codec contexts are allocated on first use.
    public init() {}

    /// Appends the compressed form of `input` to `output`.
    ///
    /// The output is reserved once, at the codec's worst-case size, and written in place.
    ///
    /// - Parameters:
    ///   - input: the bytes to compress (at most `Int32.max`). Must not point into `output`'s storage.
    ///   - codec: the codec; ``CompressionCodec/none`` copies the bytes.
    ///   - level: a level within ``CompressionCodec/supportedLevels``, or `nil` for the codec's default
    ///     (gzip: 6, lz4: the fast compressor, zstd: 3). Ignored by `none` and `snappy`.
    ///   - output: the buffer to append to.
    /// - Throws: ``CompressionError`` with ``CompressionError/Reason/unsupportedLevel(_:)``,
    ///   ``CompressionError/Reason/inputTooLarge(byteCount:)`` or
    ///   ``CompressionError/Reason/libraryFailure(message:code:)``.
    public func compress(
        _ input: UnsafeRawBufferPointer,
        codec: CompressionCodec,
        level: Int? = nil,
        into output: inout ByteBuffer
    ) throws(CompressionError) {
        guard input.count <= maximumInputByteCount else {
            throw CompressionError(codec: codec, reason: .inputTooLarge(byteCount: input.count))
        }
        let start = output.writerIndex
        do throws(CompressionError) {
            switch codec {
            case .none:
                output.writeBytes(input)
            case .gzip:
                let level = try GzipDeflater.resolveLevel(level)
                try deflater().compress(input, level: level, into: &output)
            case .snappy:
                try SnappyCodec.compress(input, into: &output)
            case .lz4:
                let level = try LZ4FrameCompressor.resolveLevel(level)
                try lz4FrameCompressor().compress(input, level: level, into: &output)
            case .zstd:
                let level = try ZstdCompressor.resolveLevel(level)
                try zstdFrameCompressor().compress(input, level: level, into: &output)
            }
        } catch {
            output.moveWriterIndex(to: start)
            throw error
        }
    }

    /// Appends the decompressed form of `input` to `output`, producing at most `maxOutputBytes` bytes.
    ///
    /// Decompression streams into the output and stops with
    /// ``CompressionError/Reason/outputLimitExceeded(limit:)`` as soon as more than `maxOutputBytes` bytes
    /// would come out, so a decompression bomb costs at most about `maxOutputBytes` of memory. Where the
    /// format declares the decompressed size (zstd and LZ4 content size, snappy block lengths, the gzip
    /// trailer), the output is sized from it up front, within the limit.
    ///
    /// - Parameters:
    ///   - input: the compressed bytes (at most `Int32.max`). Must not point into `output`'s storage.
    ///   - codec: the codec the data was written with.
    ///   - maxOutputBytes: the most bytes this call may append; negative values count as 0. The output
    ///     buffer never grows past 2 GiB (`Int32.max` bytes, Kafka's own size limit), so larger limits are
    ///     reduced to what fits, and the error reports the reduced limit.
    ///   - output: the buffer to append to.
    /// - Throws: ``CompressionError`` with ``CompressionError/Reason/corruptInput(detail:)``,
    ///   ``CompressionError/Reason/outputLimitExceeded(limit:)``,
    ///   ``CompressionError/Reason/inputTooLarge(byteCount:)`` or
    ///   ``CompressionError/Reason/libraryFailure(message:code:)``.
    public func decompress(
        _ input: UnsafeRawBufferPointer,
        codec: CompressionCodec,
        maxOutputBytes: Int,
        into output: inout ByteBuffer
    ) throws(CompressionError) {
        guard input.count <= maximumInputByteCount else {
            throw CompressionError(codec: codec, reason: .inputTooLarge(byteCount: input.count))
        }
        let start = output.writerIndex
        // ByteBuffer traps beyond 4 GiB; Kafka sizes are int32 anyway, so the output stops at 2 GiB.
        let limit = max(0, min(maxOutputBytes, maximumOutputByteCount - start))
        do throws(CompressionError) {
            switch codec {
            case .none:
                guard input.count <= limit else {
                    throw CompressionError.outputLimitExceeded(.none, limit: limit)
                }
                output.writeBytes(input)
            case .gzip:
                try inflater().decompress(input, maxOutputBytes: limit, into: &output)
            case .snappy:
                try SnappyCodec.decompress(input, maxOutputBytes: limit, into: &output)
            case .lz4:
                try lz4FrameDecompressor().decompress(input, maxOutputBytes: limit, into: &output)
            case .zstd:
                try zstdFrameDecompressor().decompress(input, maxOutputBytes: limit, into: &output)
            }
        } catch {
            output.moveWriterIndex(to: start)
            throw error
        }
    }

    // MARK: Lazily created contexts

    private func deflater() -> GzipDeflater {
        if let gzipDeflater { return gzipDeflater }
        let created = GzipDeflater()
        gzipDeflater = created
        return created
    }

    private func inflater() -> GzipInflater {
        if let gzipInflater { return gzipInflater }
        let created = GzipInflater()
        gzipInflater = created
        return created
    }

    private func lz4FrameCompressor() -> LZ4FrameCompressor {
        if let lz4Compressor { return lz4Compressor }
        let created = LZ4FrameCompressor()
        lz4Compressor = created
        return created
    }

    private func lz4FrameDecompressor() -> LZ4FrameDecompressor {
        if let lz4Decompressor { return lz4Decompressor }
        let created = LZ4FrameDecompressor()
        lz4Decompressor = created
        return created
    }

    private func zstdFrameCompressor() -> ZstdCompressor {
        if let zstdCompressor { return zstdCompressor }
        let created = ZstdCompressor()
        zstdCompressor = created
        return created
    }

    private func zstdFrameDecompressor() -> ZstdDecompressor {
        if let zstdDecompressor { return zstdDecompressor }
        let created = ZstdDecompressor()
        zstdDecompressor = created
        return created
    }
}

/// Workspaces hold C library contexts that must not be used from two threads at once.
@available(*, unavailable)
extension CompressionWorkspace: Sendable {}

// MARK: - ByteBuffer conveniences

extension CompressionWorkspace {
    /// Appends the compressed form of `input`'s readable bytes to `output`. `input` is not consumed.
    ///
    /// The parameters are those of the `UnsafeRawBufferPointer` overload.
    public func compress(
        _ input: ByteBuffer,
        codec: CompressionCodec,
        level: Int? = nil,
        into output: inout ByteBuffer
    ) throws(CompressionError) {
        // `input` keeps its storage alive, so writing to `output` copies rather than moves shared storage.
        try input.withUnsafeReadableBytes { (bytes) throws(CompressionError) in
            try self.compress(bytes, codec: codec, level: level, into: &output)
        }
    }

    /// Returns the compressed form of `input`'s readable bytes in a new buffer. `input` is not consumed.
    public func compress(
        _ input: ByteBuffer,
        codec: CompressionCodec,
        level: Int? = nil,
        allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) throws(CompressionError) -> ByteBuffer {
        var output = allocator.buffer(capacity: 0)
        try compress(input, codec: codec, level: level, into: &output)
        return output
    }

    /// Appends the decompressed form of `input`'s readable bytes to `output`, at most `maxOutputBytes` bytes.
    /// `input` is not consumed.
    public func decompress(
        _ input: ByteBuffer,
        codec: CompressionCodec,
        maxOutputBytes: Int,
        into output: inout ByteBuffer
    ) throws(CompressionError) {
        try input.withUnsafeReadableBytes { (bytes) throws(CompressionError) in
            try self.decompress(bytes, codec: codec, maxOutputBytes: maxOutputBytes, into: &output)
        }
    }

    /// Returns the decompressed form of `input`'s readable bytes in a new buffer, at most `maxOutputBytes`
    /// bytes. `input` is not consumed.
    public func decompress(
        _ input: ByteBuffer,
        codec: CompressionCodec,
        maxOutputBytes: Int,
        allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) throws(CompressionError) -> ByteBuffer {
        var output = allocator.buffer(capacity: 0)
        try decompress(input, codec: codec, maxOutputBytes: maxOutputBytes, into: &output)
        return output
    }
}

// MARK: - One-shot conveniences

extension CompressionWorkspace {
    /// Compresses `input`'s readable bytes with a temporary workspace. Convenient for occasional use; a
    /// loop should keep a workspace instead.
    public static func compress(
        _ input: ByteBuffer,
        codec: CompressionCodec,
        level: Int? = nil,
        allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) throws(CompressionError) -> ByteBuffer {
        try CompressionWorkspace().compress(input, codec: codec, level: level, allocator: allocator)
    }

    /// Decompresses `input`'s readable bytes, at most `maxOutputBytes` bytes, with a temporary workspace.
    /// Convenient for occasional use; a loop should keep a workspace instead.
    public static func decompress(
        _ input: ByteBuffer,
        codec: CompressionCodec,
        maxOutputBytes: Int,
        allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) throws(CompressionError) -> ByteBuffer {
        try CompressionWorkspace().decompress(input, codec: codec, maxOutputBytes: maxOutputBytes, allocator: allocator)
    }
}
