/// The serials of the batches not yet completed, for `flush()`: whether there are any, and which is the oldest.
///
/// Serials grow with each new batch, so a mark below which no batch is incomplete only ever moves up: finding the
/// oldest costs O(1) amortised however many batches are queued. (With acks=0 and small batches tens of thousands
/// are, and a scan of the set at every completion took three quarters of the producer's time.)
struct IncompleteBatches {
    private var serials: Set<UInt64> = []
    /// No serial below it is incomplete.
    private var mark: UInt64 = 0

    var isEmpty: Bool { serials.isEmpty }

    /// A new batch: its serial is larger than any before it.
    mutating func insert(_ serial: UInt64) {
        assert(serial >= mark, "batch serials grow")
        serials.insert(serial)
    }

    mutating func remove(_ serial: UInt64) {
        serials.remove(serial)
    }

    /// The oldest incomplete batch's serial; nil when every batch is complete.
    mutating func oldest() -> UInt64? {
        guard !serials.isEmpty else { return nil }
        while !serials.contains(mark) { mark &+= 1 }
        return mark
    }
}
