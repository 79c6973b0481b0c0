@testable import KafkaProtocol
import NIOCore
import Testing

/// The assembler and the receive allocator together, with the test playing NIO's part: ask the allocator for a
/// buffer, write what the socket has into it (up to its room), fire it.
@Suite("Framing: reading the rest of a frame into its own buffer")
struct FrameReceiveSlotTests {
    struct Connection {
        let slot = FrameReceiveSlot()
        var allocator: FrameReceiveAllocator
        var assembler: KafkaFrameAssembler
        var frames: [ByteBuffer] = []
        /// Storage addresses of the buffers the allocator handed out that were frames' own.
        var lentAddresses: [UInt] = []
        /// The room each of those had for the read.
        var lentRoom: [Int] = []

        init(initialRead: Int = 64 * 1024, limit: Int = 64 << 20) {
            allocator = FrameReceiveAllocator(slot: slot, minimum: 1024, initial: initialRead, maximum: 1024 * 1024)
            assembler = KafkaFrameAssembler(maxFrameSize: limit, receiveSlot: slot)
        }

        /// One socket read of at most `available` bytes of `stream` from `offset`, as NIO does it; returns how many
        /// bytes it took.
        mutating func read(_ stream: [UInt8], from offset: Int, available: Int) throws -> Int {
            let lending = slot.waiting != nil
            var buffer = allocator.buffer(allocator: ByteBufferAllocator())
            if lending {
                lentAddresses.append(Self.address(buffer))
                lentRoom.append(buffer.writableBytes)
            }
            let taken = min(buffer.writableBytes, available, stream.count - offset)
            buffer.writeBytes(stream[offset..<offset + taken])
            _ = allocator.record(actualReadBytes: taken)
            var read = buffer
            buffer = ByteBuffer() // NIO lets go of its reference when the read is handled
            while let frame = try assembler.nextFrame(from: &read) { frames.append(frame) }
            return taken
        }

        static func address(_ buffer: ByteBuffer) -> UInt {
            buffer.withVeryUnsafeBytes { UInt(bitPattern: $0.baseAddress) }
        }
    }

    @Test("frames come out byte for byte however the socket hands out the stream", arguments: [1, 3, 4, 100, 4096, 70_000, 1 << 20])
    func anyCut(available: Int) throws {
        let sizes = [0, 1, 5, 100, 0, 65_536, 2, 10_000, 300_000, 3]
        let stream = KafkaFrameAssemblerTests.stream(of: sizes)
        var connection = Connection(initialRead: 1024)
        var offset = 0
        while offset < stream.count { offset += try connection.read(stream, from: offset, available: available) }
        #expect(connection.frames.count == sizes.count)
        for (frame, size) in zip(connection.frames, sizes) { KafkaFrameAssemblerTests.expectFrame(frame, size: size) }
        #expect(!connection.assembler.hasPartialFrame)
    }

    #if os(Linux)
    @Test("while at least 64 KB of a frame is missing the reader waits for a quarter megabyte or all that is missing; between frames, for any byte")
    func lowWaterMarkFollowsTheFrame() throws {
        let sizes = [3_000_000, 100_000, 10]
        let stream = KafkaFrameAssemblerTests.stream(of: sizes)
        var connection = Connection(initialRead: 16 * 1024)
        var offset = 0
        var marks: [Int] = []
        while offset < stream.count {
            // The socket holds what the reader waits for (the mark), or 50,000 bytes when it waits for less.
            offset += try connection.read(stream, from: offset, available: max(connection.slot.lowWaterMark, 50_000))
            if marks.last != connection.slot.lowWaterMark { marks.append(connection.slot.lowWaterMark) }
            let missing = connection.slot.waiting.map { buffer in
                (connection.frames.count < sizes.count ? sizes[connection.frames.count] : 0) - buffer.writerIndex
            }
            if let missing {
                #expect(connection.slot.lowWaterMark <= missing, "the mark never asks for more than will come")
            } else {
                #expect(connection.slot.lowWaterMark == 1, "between frames any byte wakes the reader")
            }
        }
        #expect(connection.frames.count == sizes.count)
        for (frame, size) in zip(connection.frames, sizes) { KafkaFrameAssemblerTests.expectFrame(frame, size: size) }
        // A quarter megabyte at a time, then what was missing as the frames' ends near; one byte after the last.
        #expect(marks.first == 256 * 1024)
        #expect(marks.contains { $0 > 1 && $0 < 256 * 1024 })
        #expect(marks.last == 1)
    }
    #endif

    @Test("after the read that brings its start, a large frame's bytes are read into the frame's own buffer")
    func restIsReadInPlace() throws {
        let stream = KafkaFrameAssemblerTests.stream(of: [3_000_000, 10])
        var connection = Connection()
        var offset = 0
        while offset < stream.count { offset += try connection.read(stream, from: offset, available: 50_000) }
        #expect(connection.frames.count == 2)
        KafkaFrameAssemblerTests.expectFrame(connection.frames[0], size: 3_000_000)
        KafkaFrameAssemblerTests.expectFrame(connection.frames[1], size: 10)
        // Every read after the first went into one buffer, the frame's: all but the first 49,996 of its bytes (and
        // the next frame, if the buffer had room past the end).
        #expect(connection.slot.bytesReadIntoFrames >= 3_000_000 - 49_996)
        #expect(Set(connection.lentAddresses).count == 1)
        #expect(Connection.address(connection.frames[0]) == connection.lentAddresses.first)
    }

    @Test("a read into a frame's own buffer stops at the frame's end, however much of the next frame is waiting")
    func readStopsAtFrameEnd() throws {
        // Requests of 3 MB one after another, all of them in the socket: the first read (64 KB) brings the first
        // frame's start, the rest of it goes into its buffer; each next frame starts with a 4 KB read.
        let sizes = [3_000_000, 3_000_000, 10]
        let stream = KafkaFrameAssemblerTests.stream(of: sizes)
        var connection = Connection()
        var offset = 0
        while offset < stream.count { offset += try connection.read(stream, from: offset, available: stream.count) }
        #expect(connection.frames.count == sizes.count)
        for (frame, size) in zip(connection.frames, sizes) { KafkaFrameAssemblerTests.expectFrame(frame, size: size) }
        // Each frame's buffer had room for the rest of its frame and no more. (A buffer of NIO's power-of-two size, 4 MB,
        // would have taken 1.2 MB of the second frame, to be copied out of it into that frame's own buffer.)
        #expect(connection.lentRoom == [3_000_000 - (64 * 1024 - 4), 3_000_000 - (4 * 1024 - 4)])
        #expect(connection.slot.bytesReadIntoFrames == connection.lentRoom.reduce(0, +))
    }

    @Test("a read into another buffer while a frame waits is gathered into the frame as before")
    func readElsewhereIsGathered() throws {
        let stream = KafkaFrameAssemblerTests.stream(of: [200_000, 7])
        var connection = Connection()
        var offset = try connection.read(stream, from: 0, available: 60_000)
        #expect(connection.slot.waiting != nil)
        // NIO reused a buffer of its own instead of asking the allocator.
        var elsewhere = ByteBuffer(bytes: stream[offset..<offset + 60_000])
        offset += 60_000
        while let frame = try connection.assembler.nextFrame(from: &elsewhere) { connection.frames.append(frame) }
        while offset < stream.count { offset += try connection.read(stream, from: offset, available: 60_000) }
        #expect(connection.frames.count == 2)
        KafkaFrameAssemblerTests.expectFrame(connection.frames[0], size: 200_000)
        KafkaFrameAssemblerTests.expectFrame(connection.frames[1], size: 7)
    }

    @Test("a read into the frame's buffer that never comes back fails the connection instead of misframing it")
    func lostBufferFails() throws {
        let stream = KafkaFrameAssemblerTests.stream(of: [200_000])
        var connection = Connection()
        var offset = try connection.read(stream, from: 0, available: 60_000)
        // NIO took the frame's buffer, the socket had nothing after all, and NIO dropped the buffer.
        _ = connection.allocator.buffer(allocator: ByteBufferAllocator())
        #expect(throws: KafkaFrameAssembler.FrameError.receiveBufferLost) {
            offset += try connection.read(stream, from: offset, available: 60_000)
        }
    }
}
