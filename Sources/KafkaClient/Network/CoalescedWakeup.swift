import NIOConcurrencyHelpers
import NIOCore

/// Wake-ups of an event-loop driven component (the producer's sender, the consumer's fetcher), from any thread:
/// however many arrive while a run is queued, the loop runs once. The run calls ``begin()`` first, so a wake-up
/// during the run queues the next one.
struct CoalescedWakeup: Sendable {
    private let pending = NIOLockedValueBox(false)

    /// Queues `run` on `eventLoop` unless a run is already queued.
    func wake(on eventLoop: any EventLoop, _ run: @escaping @Sendable () -> Void) {
        let first = pending.withLockedValue { pending -> Bool in
            defer { pending = true }
            return !pending
        }
        if first { eventLoop.execute(run) }
    }

    /// The queued run has started.
    func begin() {
        pending.withLockedValue { $0 = false }
    }
}
