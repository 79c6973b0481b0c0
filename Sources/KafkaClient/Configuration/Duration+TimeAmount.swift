import NIOCore

extension Duration {
    /// The same span as NIO's `TimeAmount`, for event-loop scheduling (clamped to what `TimeAmount` holds).
    var timeAmount: TimeAmount {
        let (seconds, attoseconds) = components
        guard seconds < Int64.max / 1_000_000_000 - 1 else { return .nanoseconds(.max) }
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    /// Whole milliseconds, as Kafka's wire fields and Java's settings count time.
    var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        guard seconds < Int64.max / 1_000 - 1 else { return .max }
        return seconds * 1_000 + attoseconds / 1_000_000_000_000_000
    }
}
