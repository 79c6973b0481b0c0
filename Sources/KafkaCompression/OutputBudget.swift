import NIOCore

/// Hands streaming decoders writable windows of the output buffer without ever letting the output grow past
/// the caller's limit, growing the buffer geometrically instead of once per decoder step.
///
/// Decoders may write one byte beyond `limit`: that byte is how "exactly `limit` bytes and more to come" becomes
/// visible, and ``checkLimit(_:)`` turns it into `outputLimitExceeded`.
struct OutputBudget {
    let codec: CompressionCodec
    let limit: Int
    /// The output's writer index when the call began.
    let start: Int
    /// Total bytes a decoder may write: `limit + 1`, saturating.
    private let cap: Int
    /// How many writable bytes to ask for next; doubles the output as it grows.
    private var nextRequest: Int

    /// Smallest window worth asking for when nothing is known about the output size.
    static let minimumRequest = 16 * 1024

    /// - Parameters:
    ///   - sizeHint: the expected decompressed size if the format declares one (trusted only up to `limit`),
    ///     otherwise a guess from the input size.
    init(codec: CompressionCodec, limit: Int, output: ByteBuffer, sizeHint: Int) {
        self.codec = codec
        self.limit = max(0, limit)
        self.start = output.writerIndex
        self.cap = self.limit == Int.max ? Int.max : self.limit + 1
        self.nextRequest = min(max(sizeHint, 1), self.cap)
    }

    func produced(_ output: ByteBuffer) -> Int {
        output.writerIndex - start
    }

    /// Bytes a decoder may still write, limit-plus-one included.
    func remaining(_ output: ByteBuffer) -> Int {
        cap - produced(output)
    }

    /// Throws `outputLimitExceeded` once the output went past the limit.
    func checkLimit(_ output: ByteBuffer) throws(CompressionError) {
        if produced(output) > limit {
            throw .outputLimitExceeded(codec, limit: limit)
        }
    }

    /// Runs `body` over a writable window of at most `maxWindow` bytes that never reaches past the cap.
    /// `body` returns how many bytes it wrote. Returns (bytes written, window size offered).
    mutating func write(
        into output: inout ByteBuffer,
        maxWindow: Int = Int.max,
        _ body: (UnsafeMutableRawBufferPointer) -> Int
    ) throws(CompressionError) -> (written: Int, window: Int) {
        try checkLimit(output)
        let allowed = min(remaining(output), maxWindow)
        // `allowed` is at least 1 here: checkLimit passed, so produced <= limit < cap.
        let request = min(nextRequest, allowed)
        var window = 0
        let written = output.writeWithUnsafeMutableBytes(minimumWritableBytes: request) { buffer in
            // The buffer may have more capacity than requested; use it, but never past the cap.
            let bounded = UnsafeMutableRawBufferPointer(rebasing: buffer.prefix(allowed))
            window = bounded.count
            return body(bounded)
        }
        // Asking for as many free bytes as were produced so far doubles the buffer on each growth.
        nextRequest = max(Self.minimumRequest, produced(output))
        return (written, window)
    }
}

/// A readable byte for empty inputs: the C libraries take a pointer even for zero bytes and some of them
/// check it for null.
nonisolated(unsafe) private let emptyInputByte: UnsafeMutableRawPointer = {
    let byte = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)
    byte.storeBytes(of: 0, as: UInt8.self)
    return byte
}()

extension UnsafeRawBufferPointer {
    /// The base address, or a valid dummy address for an empty buffer.
    var nonNullBase: UnsafeRawPointer {
        baseAddress ?? UnsafeRawPointer(emptyInputByte)
    }
}

/// Kafka sizes are int32; every C API below takes at least that much in one call.
let maximumInputByteCount = Int(Int32.max)

/// How far one decompression may grow its output buffer (ByteBuffer's own ceiling is 4 GiB).
let maximumOutputByteCount = Int(Int32.max)
