import NIOCore
import NIOEmbedded
import NIOPosix
import Testing

@testable import KafkaClient

@Suite("buffer.memory: reservations, waiters and their wake-ups")
struct MemoryPoolTests {
    private static let megabyte = 1024 * 1024

    /// Starts a waiter for `bytes` and returns once it is queued (bounded: 1,000 looks, a safety limit).
    private func startWaiter(_ pool: MemoryPool, bytes: Int) async throws -> Task<Void, any Error> {
        let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
        let waiter = Task { try await pool.reserve(bytes, timeout: .seconds(60), eventLoop: eventLoop) }
        for _ in 0..<1000 where !pool.isExhausted { await Task.yield() }
        try #require(pool.isExhausted, "the waiter never queued")
        return waiter
    }

    @Test("a waiter is woken once more than it needs is free (1/4 of buffer.memory, at most 8 MiB), not at every release")
    func wakeSlack() async throws {
        let pool = MemoryPool(capacity: 16 * Self.megabyte, pooledBufferSize: Self.megabyte)
        for _ in 0..<16 { #expect(pool.tryReserve(Self.megabyte)) }
        let waiter = try await startWaiter(pool, bytes: Self.megabyte)
        // Enough for the waiter, but not for it and the slack (4 MiB): it sleeps on, and no one else may take the
        // memory.
        for _ in 0..<4 {
            pool.release(Self.megabyte)
            #expect(pool.isExhausted)
            #expect(!pool.tryReserve(1))
        }
        pool.release(Self.megabyte)
        #expect(!pool.isExhausted)
        try await waiter.value
        #expect(pool.available == 4 * Self.megabyte)
    }

    @Test("a waiter whose max.block.ms runs out while what it needs is free (kept back by the slack) takes it, not bufferExhausted")
    func expiryTakesWhatIsFree() async throws {
        let clock = NIOAsyncTestingEventLoop()
        let pool = MemoryPool(capacity: 16 * Self.megabyte, pooledBufferSize: Self.megabyte)
        for _ in 0..<16 { #expect(pool.tryReserve(Self.megabyte)) }
        let waiter = Task { try await pool.reserve(Self.megabyte, timeout: .seconds(1), eventLoop: clock) }
        for _ in 0..<1000 where !pool.isExhausted { await Task.yield() }
        try #require(pool.isExhausted, "the waiter never queued")
        pool.release(Self.megabyte)
        #expect(pool.isExhausted, "1 MiB free is less than the waiter and the slack")
        // The waiter schedules its timeout just after it joins the queue: the clock goes on until it has run.
        for _ in 0..<100 where pool.isExhausted {
            await clock.advanceTime(by: .seconds(1))
            await Task.yield()
        }
        try await waiter.value
        #expect(pool.available == 0)
        try await clock.shutdownGracefully()
    }

    @Test("a waiter whose max.block.ms runs out with too little free fails with bufferExhausted")
    func expiryWithoutMemory() async throws {
        let clock = NIOAsyncTestingEventLoop()
        let pool = MemoryPool(capacity: 16 * Self.megabyte, pooledBufferSize: Self.megabyte)
        for _ in 0..<16 { #expect(pool.tryReserve(Self.megabyte)) }
        let waiter = Task { try await pool.reserve(2 * Self.megabyte, timeout: .seconds(1), eventLoop: clock) }
        for _ in 0..<1000 where !pool.isExhausted { await Task.yield() }
        try #require(pool.isExhausted, "the waiter never queued")
        pool.release(Self.megabyte)
        for _ in 0..<100 where pool.isExhausted {
            await clock.advanceTime(by: .seconds(1))
            await Task.yield()
        }
        do {
            try await waiter.value
            Issue.record("the waiter got memory that was not free")
        } catch KafkaProducerError.bufferExhausted(let waited) {
            #expect(waited == 1000)
        }
        #expect(pool.available == Self.megabyte)
        try await clock.shutdownGracefully()
    }

    @Test("a waiter that needs nearly all of buffer.memory is woken when all of it is free")
    func largeWaiter() async throws {
        let pool = MemoryPool(capacity: Self.megabyte, pooledBufferSize: 16 * 1024)
        #expect(pool.tryReserve(Self.megabyte))
        let waiter = try await startWaiter(pool, bytes: Self.megabyte - 1024)
        pool.release(Self.megabyte - 1024)
        #expect(pool.isExhausted)
        pool.release(1024)
        try await waiter.value
        #expect(pool.available == 1024)
    }
}
