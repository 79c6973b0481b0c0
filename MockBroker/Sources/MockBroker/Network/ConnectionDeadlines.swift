import NIOCore

/// When a connection has been idle too long (`connections.max.idle.ms`) or has left a request frame unfinished
/// too long (`socket.partial.frame.timeout.ms`, the mock's own). Only timestamps: the connection handler asks
/// ``expiry(now:busy:)`` when its check comes due and schedules the next one at ``nextCheck(now:)``, so a request
/// costs a clock read, not a timer.
struct ConnectionDeadlines {
    enum Expiry: Equatable {
        /// No request for `connections.max.idle.ms`.
        case idle(TimeAmount)
        /// A request frame started and unfinished for `socket.partial.frame.timeout.ms`.
        case incompleteFrame(TimeAmount)
    }

    let idleTimeout: TimeAmount?
    let partialFrameTimeout: TimeAmount?
    /// The last time a request arrived or finished, or the connection opened.
    private(set) var lastActivity: NIODeadline
    /// Since when a request frame has been incomplete while the broker was reading; nil when none is, or while
    /// the broker itself holds reads back (the client cannot finish then).
    private(set) var partialFrameSince: NIODeadline?
    private var partialFrame = false
    private var readsHeld = false

    init(idleTimeout: TimeAmount?, partialFrameTimeout: TimeAmount?, now: NIODeadline) {
        self.idleTimeout = idleTimeout
        self.partialFrameTimeout = partialFrameTimeout
        lastActivity = now
    }

    mutating func activity(at now: NIODeadline) {
        lastActivity = now
    }

    mutating func partialFrameStarted(at now: NIODeadline) {
        partialFrame = true
        partialFrameSince = readsHeld ? nil : now
    }

    mutating func partialFrameEnded(at now: NIODeadline) {
        partialFrame = false
        partialFrameSince = nil
        lastActivity = now
    }

    /// The broker stops or resumes reading (too many queued requests); an unfinished frame's clock restarts when
    /// reading resumes.
    mutating func readsHeld(_ held: Bool, at now: NIODeadline) {
        readsHeld = held
        partialFrameSince = partialFrame && !held ? now : nil
    }

    /// Why the connection should be closed now, if it should. `busy`: requests are queued or being handled, which
    /// is not idleness however long it takes.
    func expiry(now: NIODeadline, busy: Bool) -> Expiry? {
        if let since = partialFrameSince, let timeout = partialFrameTimeout, now - since >= timeout {
            return .incompleteFrame(timeout)
        }
        if !busy, !partialFrame, let timeout = idleTimeout, now - lastActivity >= timeout {
            return .idle(timeout)
        }
        return nil
    }

    /// When to check again: the earliest time a deadline could pass (while requests keep the connection busy,
    /// an eighth of the idle timeout from now); nil when neither applies.
    func nextCheck(now: NIODeadline) -> NIODeadline? {
        let idle = idleTimeout.map { max(lastActivity + $0, now + .nanoseconds($0.nanoseconds / 8)) }
        let partial = partialFrameTimeout.flatMap { timeout in partialFrameSince.map { $0 + timeout } }
        switch (idle, partial) {
        case let (idle?, partial?): return min(idle, partial)
        case let (idle?, nil): return idle
        case let (nil, partial?): return partial
        case (nil, nil): return nil
        }
    }
}
