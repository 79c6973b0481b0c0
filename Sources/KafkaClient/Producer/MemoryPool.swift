import NIOConcurrencyHelpers
import NIOCore

/// `buffer.memory`: the bytes of batches the producer may hold. A batch reserves here as it fills (a first share,
/// then more in doubling steps: ``ProducerBatch/reserveRoom(for:limit:memory:)``) and gives it all back when it is
/// done. When nothing is left, senders wait in order of arrival, up to `max.block.ms`.
///
/// Like the Java client's `BufferPool`, it also keeps the buffers of finished `batch.size` batches for the next
/// ones: a fresh buffer of a megabyte is new memory the kernel must map and zero, page by page, as records are
/// written into it. The buffers kept are bounded (half of `buffer.memory`).
final class MemoryPool: Sendable {
    let capacity: Int
    /// The size of the buffers worth keeping (`batch.size`); larger batches (a record above it) are not kept.
    let pooledBufferSize: Int
    private let maxPooledBuffers: Int
    /// How much more than a waiter needs must be free before it is woken (unless everything is free): a
    /// sender blocked on a full buffer then goes on for a while on what was freed, instead of sleeping and waking
    /// again for every batch the broker acknowledges (like a channel's low and high write watermarks). A quarter of
    /// `buffer.memory` (at most 8 MiB): with 1 MB batches a sixteenth woke the sender every second batch, and the
    /// producer switched threads a third more often, for 3-4 % more CPU, taking 50,000 records of 10 KB.
    private let wakeSlack: Int
    private let state: NIOLockedValueBox<State>
    private let free: NIOLockedValueBox<[ByteBuffer]>

    private struct Waiter {
        let id: UInt64
        let bytes: Int
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var available: Int
        var waiters = CircularBuffer<Waiter>()
        var nextId: UInt64 = 0
    }

    init(capacity: Int, pooledBufferSize: Int) {
        self.capacity = capacity
        self.pooledBufferSize = pooledBufferSize
        // At most half of `buffer.memory` (and 64 MiB) sits unused in the free list: enough for the batches in
        // circulation (queued, in flight), while an idle producer's footprint stays below `buffer.memory`.
        maxPooledBuffers = min(capacity / 2, 64 * 1024 * 1024) / max(pooledBufferSize, 1)
        wakeSlack = min(capacity / 4, 8 * 1024 * 1024)
        state = NIOLockedValueBox(State(available: capacity))
        free = NIOLockedValueBox([])
    }

    /// A kept buffer for a new batch of `pooledBufferSize` bytes, if there is one.
    func takeBuffer() -> ByteBuffer? {
        free.withLockedValue { $0.popLast() }
    }

    /// Keeps the buffer of a finished batch for a later one (when it has the pooled size and there is room).
    func recycle(_ buffer: ByteBuffer) {
        recycle(CollectionOfOne(buffer))
    }

    /// Keeps the buffers of finished batches (those of one response) for later ones, in one turn of the lock.
    func recycle(_ buffers: some Collection<ByteBuffer>) {
        func keeps(_ buffer: ByteBuffer) -> Bool { buffer.capacity >= pooledBufferSize && buffer.capacity < 2 * pooledBufferSize }
        guard buffers.contains(where: keeps) else { return }
        free.withLockedValue { free in
            for buffer in buffers where keeps(buffer) && free.count < maxPooledBuffers { free.append(buffer) }
        }
    }

    /// Takes `bytes` if they are free now and nobody is waiting ahead.
    func tryReserve(_ bytes: Int) -> Bool {
        state.withLockedValue { state in
            guard state.waiters.isEmpty, state.available >= bytes else { return false }
            state.available -= bytes
            return true
        }
    }

    /// Takes `bytes`, waiting (behind earlier waiters) until they are free or `timeout` passes.
    nonisolated(nonsending)
    func reserve(_ bytes: Int, timeout: TimeAmount, eventLoop: any EventLoop) async throws(KafkaProducerError) {
        if tryReserve(bytes) { return }
        do {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let id = state.withLockedValue { state -> UInt64 in
                    state.nextId += 1
                    state.waiters.append(Waiter(id: state.nextId, bytes: bytes, continuation: continuation))
                    return state.nextId
                }
                eventLoop.scheduleTask(in: timeout) { [weak self] in
                    self?.expire(id, waited: timeout)
                }
                // Memory may have been released between the first attempt and joining the queue.
                release(0)
            }
        } catch let error as KafkaProducerError {
            throw error
        } catch {
            throw .producerClosed
        }
    }

    /// A waiter's time is up: it fails with `bufferExhausted`, unless it is first in line and what it needs is free
    /// (kept back only by the wake-up slack), which it then takes.
    private func expire(_ id: UInt64, waited: TimeAmount) {
        let outcome = state.withLockedValue { state -> (waiter: Waiter, granted: Bool)? in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            let first = index == state.waiters.startIndex
            let waiter = state.waiters.remove(at: index)
            guard first, waiter.bytes <= state.available else { return (waiter, false) }
            state.available -= waiter.bytes
            return (waiter, true)
        }
        guard let (waiter, granted) = outcome else { return }
        if granted {
            waiter.continuation.resume()
        } else {
            waiter.continuation.resume(throwing: KafkaProducerError.bufferExhausted(waitedMilliseconds: waited.nanoseconds / 1_000_000))
            release(0)
        }
    }

    /// Gives back `bytes` and wakes the waiters that now fit, in order.
    func release(_ bytes: Int) {
        let woken = state.withLockedValue { state -> [Waiter] in
            state.available += bytes
            var woken: [Waiter] = []
            while let first = state.waiters.first,
                  first.bytes + wakeSlack <= state.available || (first.bytes <= state.available && state.available == capacity) {
                state.available -= first.bytes
                woken.append(state.waiters.removeFirst())
            }
            return woken
        }
        for waiter in woken { waiter.continuation.resume() }
    }

    /// Whether senders are waiting for memory (then partially filled batches are sent without lingering).
    var isExhausted: Bool { state.withLockedValue { !$0.waiters.isEmpty } }

    var available: Int { state.withLockedValue { $0.available } }

    /// Fails every waiter (the producer is closing).
    func failWaiters() {
        let waiters = state.withLockedValue { state -> [Waiter] in
            defer { state.waiters.removeAll() }
            return Array(state.waiters)
        }
        for waiter in waiters { waiter.continuation.resume(throwing: KafkaProducerError.producerClosed) }
    }
}
