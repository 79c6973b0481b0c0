import Testing

@testable import KafkaClient

/// What `flush()` waits for: the batches not yet completed, the oldest found without scanning them all.
@Suite("Incomplete batches")
struct IncompleteBatchesTests {
    @Test("batches completed out of order: the oldest is the oldest still incomplete, nil once all are done")
    func oldestAfterCompletionsOutOfOrder() {
        var incomplete = IncompleteBatches()
        #expect(incomplete.oldest() == nil && incomplete.isEmpty)
        for serial: UInt64 in 1...6 { incomplete.insert(serial) }
        for serial: UInt64 in [6, 3, 5, 2, 4] { incomplete.remove(serial) }
        #expect(incomplete.oldest() == 1)
        incomplete.remove(1)
        #expect(incomplete.oldest() == nil && incomplete.isEmpty)
        incomplete.insert(7)
        incomplete.insert(8)
        #expect(incomplete.oldest() == 7)
        incomplete.remove(8)
        #expect(incomplete.oldest() == 7)
        incomplete.remove(7)
        #expect(incomplete.oldest() == nil)
    }

    @Test("tens of thousands queued and completed oldest first, asking for the oldest after each")
    func manyBatches() {
        var incomplete = IncompleteBatches()
        let count: UInt64 = 50_000
        for serial in 1...count { incomplete.insert(serial) }
        for serial in 1...count {
            #expect(incomplete.oldest() == serial)
            incomplete.remove(serial)
        }
        #expect(incomplete.oldest() == nil)
    }
}
