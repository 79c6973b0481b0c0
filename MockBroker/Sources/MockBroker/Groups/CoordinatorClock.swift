/// Where the group coordinator reads the time (milliseconds since the epoch) for its timestamps: commit and
/// expiry times, state times, heartbeats. The wall clock by default; tests inject their own, and with a
/// coordinator event loop whose timers they drive (NIO's testing loops) control time completely.
struct CoordinatorClock: Sendable {
    let now: @Sendable () -> Int64

    init(now: @escaping @Sendable () -> Int64) {
        self.now = now
    }

    static let wall = CoordinatorClock { RequestContext.nowMilliseconds() }
}
