import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// Connections that feed a broker ``HostileInput``, each case on a connection of its own, several at once.
public enum HostileClients {
    public struct Summary: Sendable, CustomStringConvertible {
        public var connections = 0
        public var connectFailures = 0
        /// Connections the broker closed.
        public var closedByBroker = 0
        /// Connections that got an answer and stayed open (the input was still a request it could serve).
        public var answered = 0
        /// Cases whose certain outcome (``HostileInput/Case/Expectation``) did not happen.
        public var violations: [String] = []

        public init() {}

        public var description: String {
            "\(connections) hostile connection(s): \(closedByBroker) closed by the broker, \(answered) answered, "
                + "\(connectFailures) could not connect, \(violations.count) violation(s)"
        }

        public mutating func add(_ other: Summary) {
            connections += other.connections
            connectFailures += other.connectFailures
            closedByBroker += other.closedByBroker
            answered += other.answered
            violations += other.violations
        }
    }

    /// Sends each case on its own connection, `concurrency` at a time. A case the broker must close is waited
    /// for (up to `partialFrameTimeout` plus 15 s, a safety bound); any other until the broker answers or closes
    /// (up to `settle`), then dropped.
    public static func run(_ cases: [HostileInput.Case], host: String = "127.0.0.1", port: Int, concurrency: Int = 16,
                           partialFrameTimeout: Duration, settle: Duration = .seconds(2)) async -> Summary {
        await withTaskGroup(of: Summary.self) { group in
            var summary = Summary()
            var next = cases.startIndex
            func launch() {
                guard next < cases.endIndex else { return }
                let hostile = cases[next]
                next += 1
                group.addTask {
                    await runOne(hostile, host: host, port: port, partialFrameTimeout: partialFrameTimeout, settle: settle)
                }
            }
            for _ in 0..<concurrency { launch() }
            while let one = await group.next() {
                summary.add(one)
                launch()
            }
            return summary
        }
    }

    private static func runOne(_ hostile: HostileInput.Case, host: String, port: Int, partialFrameTimeout: Duration,
                               settle: Duration) async -> Summary {
        var summary = Summary()
        summary.connections = 1
        guard let connection = try? await RawConnection.connect(host: host, port: port) else {
            summary.connectFailures = 1
            return summary
        }
        connection.sendQuietly(hostile.bytes)
        switch hostile.expectation {
        case .closed, .closedAfterPartialFrameTimeout:
            let bound = hostile.expectation == .closed ? Duration.seconds(15) : partialFrameTimeout + .seconds(15)
            if await connection.closedByBroker(within: TimeAmount(bound)) {
                summary.closedByBroker = 1
            } else {
                summary.violations.append("\(hostile): the broker did not close the connection within \(bound)")
            }
        case .either:
            let deadline = ContinuousClock.now + settle
            while connection.isOpen && connection.bytes.readableBytes < 4 && ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(5))
            }
            if !connection.isOpen {
                summary.closedByBroker = 1
            } else if connection.bytes.readableBytes >= 4 {
                summary.answered = 1
            }
            connection.close()
        }
        return summary
    }

    /// Slowloris: `count` connections that each start a request frame and then send one more byte every
    /// `interval`, never finishing it. The broker must close every one (within `partialFrameTimeout` plus 15 s, a
    /// safety bound), though bytes keep arriving.
    public static func slowloris(count: Int, host: String = "127.0.0.1", port: Int, interval: Duration = .milliseconds(50),
                                 partialFrameTimeout: Duration) async -> Summary {
        await withTaskGroup(of: Summary.self) { group in
            for index in 0..<count {
                group.addTask {
                    var summary = Summary()
                    summary.connections = 1
                    guard let connection = try? await RawConnection.connect(host: host, port: port) else {
                        summary.connectFailures = 1
                        return summary
                    }
                    // A Metadata request frame of 10,000 bytes, begun.
                    connection.sendQuietly(HostileInput.sizePrefix(10_000) + [0, 3, 0, 9])
                    let deadline = ContinuousClock.now + partialFrameTimeout + .seconds(15)
                    while connection.isOpen && ContinuousClock.now < deadline {
                        connection.sendQuietly([UInt8(truncatingIfNeeded: index)])
                        try? await Task.sleep(for: interval)
                    }
                    if connection.isOpen {
                        summary.violations.append("slowloris connection \(index) still open after \(partialFrameTimeout + .seconds(15))")
                        connection.close()
                    } else {
                        summary.closedByBroker = 1
                    }
                    return summary
                }
            }
            var summary = Summary()
            for await one in group { summary.add(one) }
            return summary
        }
    }
}

extension TimeAmount {
    /// The same span as a `Duration` (to the nanosecond).
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
