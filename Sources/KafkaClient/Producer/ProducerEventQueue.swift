import Synchronization

/// The producer's events on their way from the sender (on its event loop) to the one task that reads them.
///
/// In place of an `AsyncStream`: the sender hands over everything one turn of its loop produced in one step, and
/// the reader takes everything waiting in one step, so a lock is taken once per turn on each side, not once per
/// event. With batches of one record each (10 KB records in a 16 KB `batch.size`) the stream's generic code,
/// taken per event on each side, was 7-9 % of the producer's CPU. Unbounded, like the stream it replaces (an event
/// holds a batch's record ids and timestamps, not its bytes): a reader that stops reading lets them pile up.
final class ProducerEventQueue: Sendable {
    private struct State {
        var waiting: [ProducerEvent] = []
        var reader: CheckedContinuation<Void, Never>?
        var finished = false
    }

    private let state = Mutex(State())

    /// Hands `events` to the reader, in order. Ignored once ``finish()`` was called.
    func append(contentsOf events: [ProducerEvent]) {
        guard !events.isEmpty else { return }
        let reader = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.finished else { return nil }
            if state.waiting.isEmpty {
                state.waiting = events
            } else {
                state.waiting.append(contentsOf: events)
            }
            defer { state.reader = nil }
            return state.reader
        }
        reader?.resume()
    }

    /// No more events: the reader gets those still waiting, then the end.
    func finish() {
        let reader = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.finished = true
            defer { state.reader = nil }
            return state.reader
        }
        reader?.resume()
    }

    /// Everything waiting, after waiting for something if nothing is; nil at the end (or when the reading task is
    /// cancelled, as an `AsyncStream`'s iterator ends then).
    func takeAll() async -> [ProducerEvent]? {
        while true {
            if Task.isCancelled { return nil }
            let taken = state.withLock { state -> [ProducerEvent]?? in
                if !state.waiting.isEmpty {
                    defer { state.waiting = [] }
                    return .some(state.waiting)
                }
                return state.finished ? .some(nil) : nil
            }
            if let taken { return taken }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (reader: CheckedContinuation<Void, Never>) in
                    let resumeNow = state.withLock { state -> Bool in
                        if !state.waiting.isEmpty || state.finished || Task.isCancelled { return true }
                        state.reader = reader
                        return false
                    }
                    if resumeNow { reader.resume() }
                }
            } onCancel: {
                let reader = state.withLock { state -> CheckedContinuation<Void, Never>? in
                    defer { state.reader = nil }
                    return state.reader
                }
                reader?.resume()
            }
        }
    }
}
