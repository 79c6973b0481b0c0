import KafkaProtocol
import NIOConcurrencyHelpers
import NIOCore

/// One partition's part of a fetch response, waiting to be handed out as records.
struct CompletedFetch: Sendable {
    var partition: TopicPartition
    var fetchOffset: Int64
    /// The partition's epoch in ``SubscriptionState`` when the fetch was sent.
    var epoch: UInt64
    var records: ByteBuffer
    /// The offset after the last complete batch: where the next fetch of the partition continues.
    var nextOffset: Int64
    var highWatermark: Int64
    var abortedTransactions: [(producerId: Int64, firstOffset: Int64)]?
}

/// Fetched data between the fetcher and the record iterator. The fetcher reads ahead of the application, but
/// only while a partition's buffered bytes (queued or being read) stay under a limit, which bounds the memory a
/// slow application can make the consumer hold.
final class FetchBuffer: Sendable {
    enum Entry: Sendable {
        case fetch(CompletedFetch)
        case failure(KafkaConsumerError)
    }

    private struct State {
        var entries = CircularBuffer<Entry>()
        /// Bytes per partition queued or being read.
        var held: [TopicPartition: Int] = [:]
        var bytes = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter: UInt64 = 0
        /// Entries handed to the application so far.
        var taken: UInt64 = 0
        var closed = false
    }

    private let state = NIOLockedValueBox(State())

    func add(_ fetch: CompletedFetch) {
        let woken = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            guard !state.closed else { return [] }
            state.entries.append(.fetch(fetch))
            state.held[fetch.partition, default: 0] += fetch.records.readableBytes
            state.bytes += fetch.records.readableBytes
            return takeWaiters(&state)
        }
        woken.forEach { $0.resume() }
    }

    /// Reports an error to the application at its next read.
    func add(_ failure: KafkaConsumerError) {
        let woken = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            state.entries.append(.failure(failure))
            return takeWaiters(&state)
        }
        woken.forEach { $0.resume() }
    }

    /// The next entry, waiting for one; nil once closed (or when woken with nothing to give, so the caller can
    /// look at the consumer's state again).
    /// With a `deadline`, the wait ends then (nil).
    func next(deadline: ContinuousClock.Instant? = nil) async -> Entry? {
        if let entry = takeEntry() { return entry }
        if let deadline, deadline <= .now { return nil }
        let id = state.withLockedValue { state -> UInt64 in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        // A timer only when the caller bounds its wait (`poll(timeout:)`); the record iterators wait unbounded.
        let timer = deadline.map { deadline in
            Task { [state] in
                try? await Task.sleep(until: deadline)
                state.withLockedValue { $0.waiters.removeValue(forKey: id) }?.resume()
            }
        }
        defer { timer?.cancel() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLockedValue { state -> Bool in
                    // (A deadline passed means the timer may have fired before this waiter was registered.)
                    if !state.entries.isEmpty || state.closed || Task.isCancelled || deadline.map({ $0 <= .now }) == true {
                        return true
                    }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLockedValue { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
        return takeEntry()
    }

    private func takeEntry() -> Entry? {
        state.withLockedValue { state in
            guard !state.entries.isEmpty else { return nil }
            state.taken += 1
            return state.entries.removeFirst()
        }
    }

    /// Whether the application is waiting for data now, and how many entries it has taken: the group's signs that
    /// it is alive (`max.poll.interval.ms`).
    var readerActivity: (waiting: Bool, taken: UInt64) {
        state.withLockedValue { (!$0.waiters.isEmpty, $0.taken) }
    }

    /// A fetch taken with ``next()`` has been read (or given up): its bytes no longer count.
    func release(_ fetch: CompletedFetch) {
        state.withLockedValue { state in
            let bytes = fetch.records.readableBytes
            state.bytes -= bytes
            let left = (state.held[fetch.partition] ?? 0) - bytes
            state.held[fetch.partition] = left > 0 ? left : nil
        }
    }

    /// Bytes of a partition queued or being read.
    func heldBytes(_ partition: TopicPartition) -> Int { state.withLockedValue { $0.held[partition] ?? 0 } }

    /// Drops the queued fetches of `partitions` (revoked, seeked, paused); a fetch being read is released by
    /// its reader.
    func drop(_ partitions: Set<TopicPartition>) {
        state.withLockedValue { state in
            state.entries = CircularBuffer(state.entries.filter { entry in
                guard case .fetch(let fetch) = entry, partitions.contains(fetch.partition) else { return true }
                let bytes = fetch.records.readableBytes
                state.bytes -= bytes
                let left = (state.held[fetch.partition] ?? 0) - bytes
                state.held[fetch.partition] = left > 0 ? left : nil
                return false
            })
        }
    }

    /// Bytes of fetched records queued or being read.
    var bufferedBytes: Int { state.withLockedValue { $0.bytes } }

    /// Wakes a waiting reader so it re-examines the consumer (assignment changed, closing).
    func wake() {
        let woken = state.withLockedValue { takeWaiters(&$0) }
        woken.forEach { $0.resume() }
    }

    func close() {
        let woken = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            state.closed = true
            return takeWaiters(&state)
        }
        woken.forEach { $0.resume() }
    }

    var isClosed: Bool { state.withLockedValue { $0.closed } }

    private func takeWaiters(_ state: inout State) -> [CheckedContinuation<Void, Never>] {
        let waiters = Array(state.waiters.values)
        state.waiters.removeAll()
        return waiters
    }
}
