@testable import KafkaProtocol
import NIOConcurrencyHelpers
import NIOCore
#if canImport(Glibc)
import Glibc
#endif
import NIOPosix
import Testing

/// The receive slot over a real loopback socket: the assumption it rests on (NIO reads into the buffer the allocator
/// hands out, and fires that buffer) holds for the NIO we build with, and frames come out byte for byte.
@Suite("Framing over a socket: the rest of a large frame is read into its own buffer")
struct FrameReceiveTests {
    /// Collects frames; the test reads them on the channel's event loop.
    final class Collector: ChannelInboundHandler, @unchecked Sendable {
        // @unchecked: touched on the channel's event loop only.
        typealias InboundIn = ByteBuffer
        var frames: [ByteBuffer] = []
        var errors: [any Error] = []
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { frames.append(unwrapInboundIn(data)) }
        func errorCaught(context: ChannelHandlerContext, error: any Error) { errors.append(error) }
    }

    /// A frame's bytes: byte i is `(i + size) % 251`, built from a repeated block (this runs in debug builds).
    static func content(size: Int) -> [UInt8] {
        let cycle = (0..<502).map { UInt8($0 % 251) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size)
        var next = size % 251
        while bytes.count < size {
            let take = min(251, size - bytes.count)
            bytes.append(contentsOf: cycle[next..<next + take])
            next = 0
        }
        return bytes
    }

    /// Frames of these sizes, each prefixed by its size.
    static func stream(of sizes: [Int]) -> [UInt8] {
        var bytes: [UInt8] = []
        for size in sizes {
            withUnsafeBytes(of: Int32(size).bigEndian) { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: content(size: size))
        }
        return bytes
    }

    static func expectFrame(_ frame: ByteBuffer, size: Int) {
        #expect(frame.readableBytes == size)
        let expected = content(size: size)
        let same = frame.withUnsafeReadableBytes { frameBytes in
            expected.withUnsafeBytes { $0.count == frameBytes.count && ($0.count == 0 || memcmp($0.baseAddress!, frameBytes.baseAddress!, $0.count) == 0) }
        }
        #expect(same, "frame of \(size) bytes")
    }

    /// A loopback connection: a server that hands each channel it accepts to `onAccept`, and a client whose frame
    /// handler has a receive slot and passes frames to `collector`.
    struct Loopback {
        struct NoReceiveSlot: Error {}

        let server: any Channel
        let client: any Channel
        let slot: FrameReceiveSlot
        let collector = Collector()

        init(onAccept: @escaping @Sendable (any Channel) -> Void) async throws {
            server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    onAccept(channel)
                    return channel.eventLoop.makeSucceededVoidFuture()
                }
                .bind(host: "127.0.0.1", port: 0).get()
            let collector = self.collector
            let slotBox = NIOLockedValueBox<FrameReceiveSlot?>(nil)
            client = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let slot = FrameReceiveSlot.installed(on: channel)
                        slotBox.withLockedValue { $0 = slot }
                        try channel.pipeline.syncOperations.addHandlers(KafkaFrameHandler(maxFrameSize: 16 << 20, receiveSlot: slot),
                                                                        collector)
                    }
                }
                .connect(host: "127.0.0.1", port: server.localAddress!.port!).get()
            guard let slot = slotBox.withLockedValue({ $0 }) else { throw NoReceiveSlot() }
            self.slot = slot
        }

        /// Waits (up to `deadline`) until the client has `count` frames.
        func waitForFrames(_ count: Int, until deadline: ContinuousClock.Instant) async throws {
            while try await client.eventLoop.submit({ collector.frames.count }).get() < count, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
        }

        /// The client's frames and errors so far.
        func received() async throws -> (frames: [ByteBuffer], errors: [String]) {
            try await client.eventLoop.submit { (collector.frames, collector.errors.map { "\($0)" }) }.get()
        }

        func close() async throws {
            try await client.close()
            try await server.close()
        }
    }

    /// Serves `writes` (each written and flushed in turn) to a client whose frame handler has a receive slot, and
    /// returns the first `count` frames it got, its errors, and the bytes it read straight into frames' buffers.
    static func receive(_ writes: [ByteBuffer], frames count: Int) async throws -> (frames: [ByteBuffer], errors: [String], bytesInPlace: Int) {
        let loopback = try await Loopback { channel in
            for write in writes { channel.writeAndFlush(write, promise: nil) }
        }
        try await loopback.waitForFrames(count, until: .now + .seconds(20))
        let (frames, errors) = try await loopback.received()
        let bytesInPlace = try await loopback.client.eventLoop.submit { loopback.slot.bytesReadIntoFrames }.get()
        try await loopback.close()
        return (frames, errors, bytesInPlace)
    }

    @Test("frames of up to 3 MB written in pieces arrive byte for byte, most of their bytes read in place")
    func largeFramesOverLoopback() async throws {
        let sizes = [10, 3_000_000, 70_000, 0, 2_000_000, 5, 1_048_576]
        let stream = Self.stream(of: sizes)
        // The whole stream in writes of 100 KB, flushed as they go.
        let writes = stride(from: 0, to: stream.count, by: 100_000).map {
            ByteBuffer(bytes: stream[$0..<min($0 + 100_000, stream.count)])
        }
        let (frames, errors, bytesInPlace) = try await Self.receive(writes, frames: sizes.count)
        #expect(errors.isEmpty)
        #expect(frames.count == sizes.count)
        for (frame, size) in zip(frames, sizes) { Self.expectFrame(frame, size: size) }
        // Only the part of a frame that came with its size prefix is copied: most of 6 MB is read in place.
        #expect(bytesInPlace >= 3_000_000)
    }

    @Test("back-to-back frames of 1 MiB are read in place: after each, the next read takes only the size prefix's few KB")
    func framesBackToBackReadInPlace() async throws {
        let frameSize = 1 << 20
        let frameCount = 16
        let body = Self.content(size: frameSize)
        var frame = ByteBuffer()
        frame.writeInteger(Int32(frameSize))
        frame.writeBytes(body)
        let (frames, errors, bytesInPlace) = try await Self.receive(Array(repeating: frame, count: frameCount), frames: frameCount)
        #expect(errors.isEmpty)
        #expect(frames.count == frameCount)
        for frame in frames {
            let same = frame.withUnsafeReadableBytes { received in
                body.withUnsafeBytes { $0.count == received.count && memcmp($0.baseAddress!, received.baseAddress!, $0.count) == 0 }
            }
            #expect(same, "a frame's bytes")
        }
        // Copied by the assembler: the first read (16 KB), and per frame the read that brought its size prefix.
        // Reads sized for throughput would bring most of the next megabyte with each prefix, to be copied.
        let copied = frameSize * frameCount - bytesInPlace
        #expect(copied <= 16 * 1024 + frameCount * 64 * 1024, "\(copied) bytes copied")
    }

    #if os(Linux)
    @Test("while a large frame arrives the socket wakes its reader once per quarter megabyte, never for more than the frame still lacks, and for any byte between frames")
    func lowWaterMarkFollowsTheFrame() async throws {
        let frameSize = 1 << 20
        let stream = Self.stream(of: [frameSize])
        let served = NIOLockedValueBox<(any Channel)?>(nil)
        let loopback = try await Loopback { channel in served.withLockedValue { $0 = channel } }
        let (client, slot) = (loopback.client, loopback.slot)
        let deadline = ContinuousClock.now + .seconds(20)
        var peer: (any Channel)?
        while peer == nil, ContinuousClock.now < deadline {
            peer = served.withLockedValue { $0 }
            try await Task.sleep(for: .milliseconds(5))
        }
        /// The frame's bytes received so far, the slot's mark, and the socket's own (`getsockopt`).
        func receiver() async throws -> (received: Int?, mark: Int, socketMark: Int) {
            try await client.eventLoop.submit {
                let socketMark = try client.syncOptions!.getOption(.socketOption(NIOBSDSocket.Option(rawValue: SO_RCVLOWAT)))
                return (slot.waiting?.writerIndex, slot.lowWaterMark, socketMark)
            }.get()
        }
        func send(_ range: Range<Int>) async throws {
            try await try #require(peer).writeAndFlush(ByteBuffer(bytes: stream[range])).get()
        }
        /// Waits until the reader has read all it should: what it has not read of `sent` is less than its mark (the
        /// socket does not report fewer bytes readable, and they will be read with the rest of the frame).
        func settled(sent: Int) async throws -> (received: Int?, mark: Int, socketMark: Int) {
            var state = try await receiver()
            while sent - (state.received ?? 0) >= state.mark, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
                state = try await receiver()
            }
            return state
        }
        let cap = 256 * 1024

        // The size prefix and 500,000 bytes: over a quarter megabyte is still to come.
        try await send(0..<500_004)
        let first = try await settled(sent: 500_000)
        let firstReceived = try #require(first.received)
        #expect(500_000 - firstReceived < cap)
        #expect(first.mark == cap && first.socketMark == cap)
        // 400,000 more: the mark is a quarter megabyte or, once less is missing, what is missing.
        try await send(500_004..<900_004)
        let second = try await settled(sent: 900_000)
        let secondReceived = try #require(second.received)
        #expect(900_000 - secondReceived < second.mark)
        #expect(second.mark == min(cap, frameSize - secondReceived) && second.socketMark == second.mark)
        // The rest in two writes, the first smaller than the mark: the frame completes, and the mark is back at one
        // byte for the next frame's size prefix.
        try await send(900_004..<1_000_004)
        try await send(1_000_004..<stream.count)
        try await loopback.waitForFrames(1, until: deadline)
        let (frames, errors) = try await loopback.received()
        let after = try await receiver()
        try await loopback.close()
        #expect(errors.isEmpty)
        try #require(frames.count == 1)
        Self.expectFrame(frames[0], size: frameSize)
        #expect(after.mark == 1 && after.socketMark == 1)
    }
    #endif
}
