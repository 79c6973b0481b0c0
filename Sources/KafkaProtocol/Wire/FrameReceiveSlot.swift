import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Lets a connection read the rest of a large frame straight into the frame's own buffer, so a fetch response (or a
/// produce request, on the broker) is copied once, by the kernel, instead of once more by the frame assembler.
///
/// The ``KafkaFrameAssembler`` puts a partly received frame's buffer here; the connection's
/// ``FrameReceiveAllocator`` hands it to NIO as the buffer for the next socket read, and NIO fires it back with the
/// new bytes after the old ones. Only for a frame handler that sees the socket's own bytes (plaintext): a handler
/// behind TLS must not be given a slot, or ciphertext would be read into a frame.
///
/// A buffer NIO writes into must be held by NIO alone (a second holder makes the write copy it first), so the
/// slot gives the buffer away rather than sharing it. If a read into it returned no bytes, NIO drops it with the
/// frame's first part: the allocator notices (its next call finds the buffer still out) and the assembler fails
/// the connection with ``KafkaFrameAssembler/FrameError/receiveBufferLost`` instead of misframing the stream. NIO
/// reads once per readiness event (``installed(on:)``), so a read into the buffer always follows data the kernel
/// has reported.
public final class FrameReceiveSlot: @unchecked Sendable {
    // @unchecked: NIO calls the allocator on the channel's event loop, and the frame handler that holds the
    // assembler runs on the same loop; nothing else touches the slot.

    /// The partly received frame, waiting to be read into.
    fileprivate(set) var waiting: ByteBuffer?
    /// Handed to NIO for a read whose bytes have not come back yet.
    fileprivate(set) var readingInto = false
    /// A read into the frame's buffer never came back: the frame's first part is gone.
    fileprivate(set) var lost = false
    /// Bytes read straight into frames' buffers (for tests: proof that the path is taken).
    private(set) var bytesReadIntoFrames = 0
    /// A large frame ended where a read ended: the next bytes are most likely another large frame's size prefix, so
    /// the next read takes a few KB (``headerReadSize``) instead of a read sized for throughput, whose bytes past the
    /// prefix the assembler would have to copy into the frame's buffer (most of a megabyte per frame, when a peer
    /// sends megabyte requests or responses one after another and the reader keeps up).
    fileprivate(set) var nextReadIsHeader = false
    /// The read in flight is such a small read (not counted in the adaptive sizes).
    fileprivate var readingHeader = false

    /// The channel whose receive low-water mark (`SO_RCVLOWAT`) the slot moves while a large frame arrives.
    /// Unowned, as the channel holds the slot (through its allocator), and used only from the channel's own reads.
    /// Not weak: a weak reference gives the channel a side table, which makes every retain and release of it slow.
    /// (No channel in tests that play NIO's part: the mark is then only kept here.)
    private unowned let channel: (any Channel)?
    /// Whether the socket takes the mark (it stops trying after a refusal).
    private var movesLowWaterMark = true
    /// The low-water mark set on the socket now (1, the kernel's default, between frames).
    private(set) var lowWaterMark = 1

    /// Frames at least this large, once read into their own buffer, are taken to be followed by more like them.
    static let largeFrameSize = 64 * 1024
    /// While at least this much of a frame is still to come, the socket reports itself readable only once this much
    /// has arrived (or all that is left, if less): one wake-up and one read per quarter megabyte rather than one per
    /// loopback segment (64 KB) or less. Every wake-up costs the sender too: the kernel wakes the reader in the
    /// sender's `write`.
    static let lowWaterMarkCap = 256 * 1024
    /// The read after a large frame: its size prefix, and small frames whole.
    static let headerReadSize = 4 * 1024

    init(channel: (any Channel)? = nil) {
        self.channel = channel
    }

    /// A slot whose allocator now reads `channel`'s bytes; call on the channel's event loop before it reads, and give
    /// the slot to the frame handler that sees the socket's own bytes. `nil` when the channel takes no options
    /// synchronously: the handler then gathers frames as usual.
    ///
    /// Also sets one read per readiness event, which must stay so: NIO's buffer pool keeps a reference to the
    /// buffers it allocates after the first in one event (which would make the next read copy the frame first), and
    /// a second read in one event could find the socket empty and drop the frame's buffer. (NIO's epoll is level
    /// triggered: bytes left in the socket after one read make the next wait return at once.)
    ///
    /// Other reads take NIO's adaptive sizes, growing up to `maximumRead` bytes.
    public static func installed(on channel: any Channel, maximumRead: Int = 1024 * 1024) -> FrameReceiveSlot? {
        guard let options = channel.syncOptions else { return nil }
        let slot = FrameReceiveSlot(channel: channel)
        do {
            try options.setOption(.recvAllocator, value: FrameReceiveAllocator(slot: slot, maximum: maximumRead))
            try options.setOption(.maxMessagesPerRead, value: 1)
        } catch {
            return nil
        }
        return slot
    }

    /// Offers a partly received frame's buffer for the next read (the assembler's side), `remaining` bytes short of
    /// the whole frame.
    func lend(_ frame: ByteBuffer, remaining: Int) {
        waiting = frame
        if remaining >= Self.largeFrameSize {
            awaitBytes(min(remaining, Self.lowWaterMarkCap))
        } else if lowWaterMark > remaining {
            awaitBytes(remaining) // the last part of a large frame: the mark must not ask for more than will come
        }
    }

    /// The frame's buffer back if NIO did not take it (the read went into another buffer).
    func takeBack() -> ByteBuffer? {
        defer { waiting = nil }
        return waiting
    }

    /// The frame lent last is complete (or no longer read into its buffer): any byte is worth a read again.
    func frameEnded() {
        awaitBytes(1)
    }

    /// Sets the socket's low-water mark to `bytes` where that changes it; best effort (a socket that refuses it is
    /// simply read as it fills).
    ///
    /// The kernel never holds back the rest of a frame: the mark is at most what the frame still lacks, setting it
    /// reports the socket readable at once if that much is already there, and a peer's close or a full receive
    /// window wakes the reader whatever the mark. Linux only, where `epoll` honours the mark.
    private func awaitBytes(_ bytes: Int) {
        #if os(Linux)
        guard bytes != lowWaterMark, movesLowWaterMark else { return }
        if let channel {
            do {
                try channel.syncOptions?.setOption(.socketOption(NIOBSDSocket.Option(rawValue: SO_RCVLOWAT)), value: bytes)
            } catch {
                movesLowWaterMark = false // closed, or refuses the option: leave the mark alone from now on
                return
            }
        }
        lowWaterMark = bytes
        #endif
    }

    /// The read NIO fired was the frame's buffer, with `bytes` more in it.
    func returned(bytes: Int) {
        readingInto = false
        bytesReadIntoFrames += bytes
    }

    /// A frame read into its own buffer is complete, with no bytes of the next one after it in that buffer.
    func completedAtReadEnd(size: Int) {
        nextReadIsHeader = size >= Self.largeFrameSize
    }

    fileprivate func handOut() -> ByteBuffer? {
        if readingInto {
            // The last buffer handed out never came back through the pipeline.
            readingInto = false
            lost = true
        }
        guard let frame = waiting else { return nil }
        waiting = nil
        readingInto = true
        return frame
    }
}

/// A connection's receive allocator: NIO's adaptive sizes, except that the rest of a large frame is read into the
/// frame's own buffer (see ``FrameReceiveSlot``).
struct FrameReceiveAllocator: RecvByteBufferAllocator {
    private var adaptive: AdaptiveRecvByteBufferAllocator
    private let slot: FrameReceiveSlot

    /// Reads between `minimum` and `maximum` bytes (powers of two) when no frame is waiting in `slot`.
    init(slot: FrameReceiveSlot, minimum: Int = 1024, initial: Int = 16 * 1024, maximum: Int = 1024 * 1024) {
        adaptive = AdaptiveRecvByteBufferAllocator(minimum: minimum, initial: initial, maximum: maximum)
        self.slot = slot
    }

    func buffer(allocator: ByteBufferAllocator) -> ByteBuffer {
        if let frame = slot.handOut() { return frame }
        if slot.nextReadIsHeader {
            slot.nextReadIsHeader = false
            slot.readingHeader = true
            return allocator.buffer(capacity: FrameReceiveSlot.headerReadSize)
        }
        return adaptive.buffer(allocator: allocator)
    }

    /// No size while a frame waits or a header read is due: NIO then asks ``buffer(allocator:)`` instead of reusing
    /// its own buffer (whose capacity a read would fill).
    func nextBufferSize() -> Int? {
        slot.waiting == nil && !slot.nextReadIsHeader ? adaptive.nextBufferSize() : nil
    }

    /// Always "may grow": NIO reuses its stored buffer without asking when this is false and there is no size.
    /// Reads into a frame's buffer and header reads do not count towards the adaptive sizes.
    mutating func record(actualReadBytes: Int) -> Bool {
        if !slot.readingInto && !slot.readingHeader { _ = adaptive.record(actualReadBytes: actualReadBytes) }
        slot.readingHeader = false
        return true
    }
}
