import CSnappy
import NIOCore

/// Snappy as Kafka uses it.
///
/// Writing uses the xerial block framing that the Java client (snappy-java's `SnappyOutputStream`) writes:
/// a 16-byte header (8 magic bytes, int32 BE version 1, int32 BE minimum compatible version 1), then chunks of
/// int32 BE compressed length + one raw snappy block holding at most 32 KiB of input.
///
/// Reading accepts that framing and plain raw snappy (librdkafka and franz-go write raw blocks); the magic
/// tells them apart, as it does for the Java and Python clients. Snappy needs no scratch state.
enum SnappyCodec {
    /// `82 'S' 'N' 'A' 'P' 'P' 'Y' 00` read as a big-endian integer.
    static let xerialMagic: UInt64 = 0x8253_4E41_5050_5900
    static let xerialHeaderSize = 16
    static let xerialBlockSize = 32 * 1024
    private static let xerialVersion: UInt32 = 1
    private static let xerialMinimumCompatibleVersion: UInt32 = 1
    /// Upper bound on how much one compressed byte can expand to (64 output bytes from a 3-byte copy).
    private static let maximumRatio = 22

    private static func hasXerialHeader(_ input: UnsafeRawBufferPointer, at offset: Int) -> Bool {
        guard input.count - offset >= xerialHeaderSize else { return false }
        return UInt64(bigEndian: input.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) == xerialMagic
    }

    // MARK: Compression

    static func compress(_ input: UnsafeRawBufferPointer, into output: inout ByteBuffer) throws(CompressionError) {
        let fullBlocks = input.count / xerialBlockSize
        let tail = input.count % xerialBlockSize
        // Each chunk costs its length prefix plus snappy's worst case for its input.
        var bound = xerialHeaderSize + fullBlocks * (4 + snappy_max_compressed_length(xerialBlockSize))
        if tail > 0 || input.isEmpty {
            bound += 4 + snappy_max_compressed_length(tail)
        }

        var failure: CompressionError?
        output.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { buffer in
            buffer.storeBytes(of: xerialMagic.bigEndian, toByteOffset: 0, as: UInt64.self)
            buffer.storeBytes(of: xerialVersion.bigEndian, toByteOffset: 8, as: UInt32.self)
            buffer.storeBytes(of: xerialMinimumCompatibleVersion.bigEndian, toByteOffset: 12, as: UInt32.self)
            let source = input.nonNullBase.assumingMemoryBound(to: CChar.self)
            let destination = buffer.baseAddress!
            var written = xerialHeaderSize
            var consumed = 0
            // An empty input still gets one (empty) chunk: kafka-python only recognises the framing when
            // something follows the header, and snappy-java reads an empty chunk as zero bytes.
            repeat {
                let chunk = min(xerialBlockSize, input.count - consumed)
                var compressedLength = buffer.count - written - 4
                let status = snappy_compress(
                    source + consumed, chunk,
                    (destination + written + 4).assumingMemoryBound(to: CChar.self), &compressedLength
                )
                guard status == SNAPPY_OK, let length = UInt32(exactly: compressedLength) else {
                    failure = .libraryFailure(.snappy, "snappy_compress failed", code: Int(status.rawValue))
                    return 0
                }
                buffer.storeBytes(of: length.bigEndian, toByteOffset: written, as: UInt32.self)
                written += 4 + compressedLength
                consumed += chunk
            } while consumed < input.count
            return written
        }
        if let failure { throw failure }
    }

    // MARK: Decompression

    static func decompress(
        _ input: UnsafeRawBufferPointer,
        maxOutputBytes: Int,
        into output: inout ByteBuffer
    ) throws(CompressionError) {
        guard !input.isEmpty else { throw .corruptInput(.snappy, "empty input") }
        let limit = max(0, maxOutputBytes)

        // Pass 1 walks the framing and reads each block's declared size, so the limit is enforced and the
        // output reserved once before anything is allocated or decoded.
        var total = 0
        try forEachBlock(in: input) { (block: UnsafeRawBufferPointer) throws(CompressionError) in
            let declared = try declaredLength(of: block)
            guard declared <= limit - total else { throw .outputLimitExceeded(.snappy, limit: limit) }
            // The densest snappy element, a 3-byte copy of 64 bytes, expands about 21:1; a block declaring
            // more than that is lying, and believing it would reserve memory for nothing.
            guard declared / maximumRatio <= block.count else {
                throw .corruptInput(.snappy, "declared length impossible for the block size")
            }
            total += declared
        }

        // Pass 2 decodes every block straight into the reserved bytes.
        var failure: CompressionError?
        output.writeWithUnsafeMutableBytes(minimumWritableBytes: max(total, 1)) { buffer in
            var written = 0
            do throws(CompressionError) {
                try forEachBlock(in: input) { (block: UnsafeRawBufferPointer) throws(CompressionError) in
                    written += try uncompress(block, into: buffer.baseAddress! + written, capacity: total - written)
                }
            } catch {
                failure = error
                return 0
            }
            return written
        }
        if let failure { throw failure }
    }

    /// Calls `body` with each raw snappy block: the whole input when it is raw, each chunk when it is framed.
    private static func forEachBlock(
        in input: UnsafeRawBufferPointer,
        _ body: (UnsafeRawBufferPointer) throws(CompressionError) -> Void
    ) throws(CompressionError) {
        guard hasXerialHeader(input, at: 0) else {
            try body(input)
            return
        }
        // The version fields are not checked: there has only ever been version 1, and some producers
        // are known to write them in the wrong byte order.
        var offset = xerialHeaderSize
        while offset < input.count {
            guard input.count - offset >= 4 else { throw .corruptInput(.snappy, "truncated chunk length") }
            let length = Int32(bigEndian: input.loadUnaligned(fromByteOffset: offset, as: Int32.self))
            if length < 0 {
                // snappy-java starts concatenated streams with a fresh header, whose first four bytes read
                // as a negative length.
                guard hasXerialHeader(input, at: offset) else {
                    throw .corruptInput(.snappy, "negative chunk length")
                }
                offset += xerialHeaderSize
                continue
            }
            offset += 4
            guard length > 0 else { throw .corruptInput(.snappy, "empty chunk") }
            guard Int(length) <= input.count - offset else { throw .corruptInput(.snappy, "truncated chunk") }
            try body(UnsafeRawBufferPointer(rebasing: input[offset..<(offset + Int(length))]))
            offset += Int(length)
        }
    }

    private static func declaredLength(of block: UnsafeRawBufferPointer) throws(CompressionError) -> Int {
        var length = 0
        let status = snappy_uncompressed_length(
            block.nonNullBase.assumingMemoryBound(to: CChar.self), block.count, &length
        )
        guard status == SNAPPY_OK, length >= 0 else {
            throw .corruptInput(.snappy, "invalid block length header")
        }
        return length
    }

    /// Decodes one block into `destination`, which has room for exactly the block's declared length.
    private static func uncompress(
        _ block: UnsafeRawBufferPointer,
        into destination: UnsafeMutableRawPointer,
        capacity: Int
    ) throws(CompressionError) -> Int {
        let declared = try declaredLength(of: block)
        guard declared <= capacity else { throw .corruptInput(.snappy, "block longer than declared") }
        var length = declared
        let status = snappy_uncompress(
            block.nonNullBase.assumingMemoryBound(to: CChar.self), block.count,
            destination.assumingMemoryBound(to: CChar.self), &length
        )
        guard status == SNAPPY_OK, length == declared else {
            throw .corruptInput(.snappy, "invalid block")
        }
        return length
    }
}
