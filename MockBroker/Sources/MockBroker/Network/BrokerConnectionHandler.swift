import KafkaProtocol
import Logging
import NIOCore

/// One client connection. Requests are handled one at a time and answered in the order they arrived, as Kafka
/// does: a client may pipeline, and while a request is being handled (a long-polling fetch, say) later ones wait.
/// Reading stops while too many requests are queued or the socket cannot take more responses. Answers are written
/// as they are ready and flushed together: those to requests that arrived in one read at the end of the read, any
/// other as soon as the next request has to wait (so a client pipelining small requests gets its answers in one
/// system call, and is woken once for them). Produce requests that arrive together are handled together: their
/// appends are written at once, one write per partition (``AppendGroup``), and each is answered as if alone.
///
/// Bytes that are not a valid request (a frame over `socket.request.max.bytes`, a header or body that does not
/// parse, an API or version the broker does not offer) close this connection, with a log line; the broker keeps
/// serving everyone else. So does a connection without requests for `connections.max.idle.ms`, and one that leaves
/// a request frame unfinished for `socket.partial.frame.timeout.ms` while the broker is reading
/// (``ConnectionDeadlines``).
final class BrokerConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private let router: RequestRouter
    private let counters: BrokerCounters
    private var logger: Logger
    /// The client's address, read once: `context.remoteAddress` asks the kernel (getpeername) each time.
    private var remoteAddress: SocketAddress?
    private var pending = CircularBuffer<ByteBuffer>()
    private var handling = false
    private var heldRead = false
    /// Answers written and not yet flushed.
    private var unflushed = false
    /// Between a read's first request and `channelReadComplete`, which flushes what they were answered with.
    private var reading = false
    private var active = true
    private var deadlines: ConnectionDeadlines
    /// The pending check of ``deadlines``, and when it runs.
    private var deadlineCheck: Scheduled<Void>?
    private var deadlineCheckTime = NIODeadline.distantFuture
    private static let maxQueuedRequests = 16
    /// Produce requests this large are handled as they arrive, not kept for the end of the read.
    private static let producePassedAlone = 256 * 1024

    init(router: RequestRouter, counters: BrokerCounters, idleTimeout: TimeAmount?, partialFrameTimeout: TimeAmount?,
         logger: Logger) {
        self.router = router
        self.counters = counters
        self.logger = logger
        deadlines = ConnectionDeadlines(idleTimeout: idleTimeout, partialFrameTimeout: partialFrameTimeout, now: .now())
    }

    func channelActive(context: ChannelHandlerContext) {
        counters.connectionAccepted()
        remoteAddress = context.remoteAddress
        if let remote = remoteAddress { logger[metadataKey: "client"] = "\(remote)" }
        logger.debug("connection opened")
        let now = NIODeadline.now()
        deadlines.activity(at: now)
        scheduleDeadlineCheck(context: context, now: now)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        active = false
        counters.connectionClosed()
        pending.removeAll()
        deadlineCheck?.cancel()
        deadlineCheck = nil
        logger.debug("connection closed")
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        reading = true
        deadlines.activity(at: .now())
        let frame = unwrapInboundIn(data)
        pending.append(frame)
        // A small produce request waits for the end of the read, so that the ones it brought are appended together.
        // A large one goes at once: its writes are large already, and are cheaper while its bytes are in cache.
        if !Self.isProduce(frame) || frame.readableBytes >= Self.producePassedAlone { handleNext(context: context) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        reading = false
        handleNext(context: context)
        flushIfNeeded(context: context)
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let partial = event as? BrokerFrameHandler.PartialFrame else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        let now = NIODeadline.now()
        switch partial {
        case .started:
            deadlines.partialFrameStarted(at: now)
            scheduleDeadlineCheck(context: context, now: now)
        case .ended:
            deadlines.partialFrameEnded(at: now)
        }
    }

    /// Holds back reads while the queue is full.
    func read(context: ChannelHandlerContext) {
        if pending.count >= Self.maxQueuedRequests {
            heldRead = true
            deadlines.readsHeld(true, at: .now())
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { handleNext(context: context) }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if error is IOError {
            // The client went away (reset, broken pipe): not the client's bytes' fault.
            logger.debug("connection error: \(error)")
            active = false
            pending.removeAll()
            context.close(promise: nil)
        } else {
            closeForBadInput(context: context, reason: "\(error)")
        }
    }

    // MARK: - Deadlines

    /// Makes sure a check runs by the next deadline (an earlier pending check is kept; it reschedules itself).
    /// Never sooner than a millisecond from now: should the deadline arithmetic ever say "now" without the check
    /// expiring, the connection must not spin on its event loop.
    private func scheduleDeadlineCheck(context: ChannelHandlerContext, now: NIODeadline) {
        guard active, let next = deadlines.nextCheck(now: now) else { return }
        let time = max(next, now + .milliseconds(1))
        if deadlineCheck != nil && deadlineCheckTime <= time { return }
        deadlineCheck?.cancel()
        deadlineCheckTime = time
        deadlineCheck = context.eventLoop.assumeIsolated().scheduleTask(deadline: time) {
            self.deadlineCheck = nil
            self.checkDeadlines(context: context)
        }
    }

    private func checkDeadlines(context: ChannelHandlerContext) {
        guard active else { return }
        let now = NIODeadline.now()
        switch deadlines.expiry(now: now, busy: handling || !pending.isEmpty) {
        case .idle(let timeout)?:
            // As Kafka: routine, not the client's fault.
            logger.debug("closing connection: no request for \(timeout.nanoseconds / 1_000_000) ms (connections.max.idle.ms)")
            counters.connectionClosedIdle()
            close(context: context)
        case .incompleteFrame(let timeout)?:
            logger.warning("""
                closing connection: a request frame was left incomplete for \(timeout.nanoseconds / 1_000_000) ms \
                (socket.partial.frame.timeout.ms)
                """)
            counters.connectionClosedForIncompleteFrame()
            close(context: context)
        case nil:
            scheduleDeadlineCheck(context: context, now: now)
        }
    }

    /// Closes the connection. The answers already written go out first: they would have before the reason to close
    /// came, had they not been waiting for the end of a read.
    private func close(context: ChannelHandlerContext) {
        active = false
        pending.removeAll()
        if unflushed {
            unflushed = false
            context.flush()
        }
        context.close(promise: nil)
    }

    private func closeForBadInput(context: ChannelHandlerContext, reason: String) {
        guard active else { return }
        counters.connectionClosedForBadInput()
        logger.warning("closing connection: \(reason)")
        close(context: context)
    }

    private func flushIfNeeded(context: ChannelHandlerContext) {
        guard unflushed, !reading else { return }
        unflushed = false
        context.flush()
    }

    private func handleNext(context: ChannelHandlerContext) {
        guard active, !handling, context.channel.isWritable, let frame = pending.popFirst() else {
            // Nothing more to answer now: what is written goes out.
            flushIfNeeded(context: context)
            return
        }
        handling = true
        var frames = [frame]
        if Self.isProduce(frame), let next = pending.first, Self.isProduce(next), router.mayGroupProduceRequests {
            while let next = pending.first, Self.isProduce(next) { frames.append(pending.removeFirst()) }
        }
        if heldRead, pending.count < Self.maxQueuedRequests {
            heldRead = false
            let now = NIODeadline.now()
            deadlines.readsHeld(false, at: now)
            scheduleDeadlineCheck(context: context, now: now)
            context.read()
        }
        answer(route(frames, context: context)[...], context: context)
    }

    /// Routes the requests in order. Several are produce requests queued together, whose appends are done together
    /// (``AppendGroup``). A request refused outright (bytes that do not parse) ends them: the connection closes
    /// at its answer, and the requests behind it are not handled, as when they are handled one at a time.
    private func route(_ frames: [ByteBuffer], context: ChannelHandlerContext) -> [EventLoopFuture<ResponseFrame?>] {
        guard frames.count > 1 else {
            return [router.route(frames[0], eventLoop: context.eventLoop, remoteAddress: remoteAddress, logger: logger)]
        }
        let group = AppendGroup()
        var answers: [EventLoopFuture<ResponseFrame?>] = []
        for frame in frames {
            let answer = router.route(frame, eventLoop: context.eventLoop, remoteAddress: remoteAddress, logger: logger,
                                      appendGroup: group)
            answers.append(answer)
            var refused = false
            answer.assumeIsolated().whenFailure { _ in refused = true } // runs now if it has failed already
            if refused { break }
        }
        group.commit()
        return answers
    }

    /// Writes the answers in order, each as soon as it is ready, then handles the next request.
    private func answer(_ answers: ArraySlice<EventLoopFuture<ResponseFrame?>>, context: ChannelHandlerContext) {
        guard let next = answers.first else {
            handling = false
            handleNext(context: context)
            return
        }
        var answered = false
        next.hop(to: context.eventLoop).assumeIsolated().whenComplete { result in
            answered = true
            self.deadlines.activity(at: .now())
            switch result {
            case .success(let frame?):
                guard self.active else {
                    frame.releaseFileRegions()
                    self.handling = false
                    return
                }
                self.write(frame, context: context)
            case .success(nil):
                break // acks=0: Kafka sends nothing back
            case .failure(RequestRouter.RouterError.injectedFault(let action)):
                self.handling = false
                self.logger.debug("closing connection: injected \(action)")
                self.close(context: context)
                return
            case .failure(let error):
                self.handling = false
                self.closeForBadInput(context: context, reason: "\(error)")
                return
            }
            self.answer(answers.dropFirst(), context: context)
        }
        // This answer comes later (a long-polling fetch, an acks=all produce): the ones before it go out now.
        if !answered { flushIfNeeded(context: context) }
    }

    private static func isProduce(_ frame: ByteBuffer) -> Bool {
        frame.getInteger(at: frame.readerIndex, as: Int16.self) == ApiKey.produce.rawValue
    }

    private func write(_ frame: ResponseFrame, context: ChannelHandlerContext) {
        let regionBytes = frame.fileRegionBytes
        for (index, chunk) in frame.chunks.enumerated() {
            if case .buffer(let buffer) = chunk { counters.responseWritten(buffer.readableBytes) }
            let data: IOData = switch chunk {
            case .buffer(let buffer): .byteBuffer(buffer)
            case .fileRegion(let region): .fileRegion(region)
            }
            guard index == frame.chunks.count - 1 else {
                context.write(wrapOutboundOut(data), promise: nil)
                continue
            }
            let written = context.eventLoop.makePromise(of: Void.self)
            context.write(wrapOutboundOut(data), promise: written)
            unflushed = true
            let counters = self.counters
            written.futureResult.whenComplete { result in
                frame.releaseFileRegions()
                if case .success = result, regionBytes > 0 { counters.sentByFileRegion(regionBytes) }
            }
        }
    }
}
