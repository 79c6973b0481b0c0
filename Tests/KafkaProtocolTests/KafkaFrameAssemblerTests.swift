import KafkaProtocol
import NIOCore
import NIOEmbedded
import Testing

@Suite("Framing: the frame assembler and handler")
struct KafkaFrameAssemblerTests {
    /// Frames of these sizes, each prefixed by its size, one after another; byte i of a frame is `(i + its size) % 251`.
    static func stream(of sizes: [Int]) -> [UInt8] {
        var bytes: [UInt8] = []
        for size in sizes {
            withUnsafeBytes(of: Int32(size).bigEndian) { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: (0..<size).map { UInt8(($0 + size) % 251) })
        }
        return bytes
    }

    static func expectFrame(_ frame: ByteBuffer, size: Int) {
        #expect(frame.readableBytes == size)
        #expect(Array(frame.readableBytesView) == (0..<size).map { UInt8(($0 + size) % 251) })
    }

    /// Feeds `bytes` in reads of `chunk` bytes and returns every frame that came out.
    static func frames(of bytes: [UInt8], inReadsOf chunk: Int, limit: Int = 1 << 20) throws -> [ByteBuffer] {
        var assembler = KafkaFrameAssembler(maxFrameSize: limit)
        var frames: [ByteBuffer] = []
        var start = 0
        while start < bytes.count {
            var read = ByteBuffer(bytes: bytes[start..<min(start + chunk, bytes.count)])
            while let frame = try assembler.nextFrame(from: &read) { frames.append(frame) }
            #expect(read.readableBytes == 0)
            start += chunk
        }
        #expect(!assembler.hasPartialFrame)
        return frames
    }

    @Test("the same frames come out however the stream is cut into reads", arguments: [1, 2, 3, 4, 5, 7, 64, 1000, 70_000])
    func anyCut(chunk: Int) throws {
        let sizes = [0, 1, 3, 4, 5, 100, 0, 65_536, 2, 10_000]
        let frames = try Self.frames(of: Self.stream(of: sizes), inReadsOf: chunk)
        #expect(frames.count == sizes.count)
        for (frame, size) in zip(frames, sizes) { Self.expectFrame(frame, size: size) }
    }

    @Test("a frame that arrives whole in one read is a view of that read, not a copy")
    func wholeFrameIsASlice() throws {
        var assembler = KafkaFrameAssembler(maxFrameSize: 1 << 20)
        var read = ByteBuffer(bytes: Self.stream(of: [5000, 10]))
        let readStart = read.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        let first = try #require(try assembler.nextFrame(from: &read))
        let second = try #require(try assembler.nextFrame(from: &read))
        #expect(first.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) } == readStart + 4)
        #expect(second.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) } == readStart + 4 + 5000 + 4)
        #expect(try assembler.nextFrame(from: &read) == nil)
    }

    @Test("a frame spread over reads is gathered, and reported partial until its last byte")
    func gatheredFrameIsAllocatedOnce() throws {
        var assembler = KafkaFrameAssembler(maxFrameSize: 1 << 20)
        let bytes = Self.stream(of: [100_000])
        var gathered: ByteBuffer?
        for start in stride(from: 0, to: bytes.count, by: 8192) {
            var read = ByteBuffer(bytes: bytes[start..<min(start + 8192, bytes.count)])
            if let frame = try assembler.nextFrame(from: &read) { gathered = frame }
            #expect(assembler.hasPartialFrame == (gathered == nil))
        }
        let frame = try #require(gathered)
        Self.expectFrame(frame, size: 100_000)
    }

    @Test("a size over the limit is refused before its bytes arrive, also when the size prefix is split")
    func tooLarge() throws {
        for chunk in [4, 2, 1] {
            var assembler = KafkaFrameAssembler(maxFrameSize: 1000)
            let prefix = Self.stream(of: [1001]).prefix(4)
            #expect(throws: KafkaFrameAssembler.FrameError.tooLarge(size: 1001, limit: 1000)) {
                for start in stride(from: 0, to: 4, by: chunk) {
                    var read = ByteBuffer(bytes: prefix[start..<start + chunk])
                    _ = try assembler.nextFrame(from: &read)
                }
            }
        }
    }

    @Test("a negative size is an error")
    func negativeSize() {
        var assembler = KafkaFrameAssembler(maxFrameSize: 1000)
        var read = ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFE, 1, 2])
        #expect(throws: KafkaFrameAssembler.FrameError.negativeSize(-2)) { try assembler.nextFrame(from: &read) }
    }

    @Test("the handler fires each frame, then the error of a bad size prefix, and nothing after it")
    func handler() throws {
        let channel = EmbeddedChannel(handler: KafkaFrameHandler(maxFrameSize: 1000))
        let good = Self.stream(of: [3, 7])
        try channel.writeInbound(ByteBuffer(bytes: good.prefix(5)))
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        #expect(throws: KafkaFrameAssembler.FrameError.tooLarge(size: 2000, limit: 1000)) {
            try channel.writeInbound(ByteBuffer(bytes: good.dropFirst(5) + Self.stream(of: [2000]).prefix(4)))
        }
        Self.expectFrame(try #require(try channel.readInbound(as: ByteBuffer.self)), size: 3)
        Self.expectFrame(try #require(try channel.readInbound(as: ByteBuffer.self)), size: 7)
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        try channel.writeInbound(ByteBuffer(bytes: Self.stream(of: [1])))
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        _ = try? channel.finish()
    }
}
