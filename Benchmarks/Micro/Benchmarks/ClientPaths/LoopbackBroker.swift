import Logging
import MockBroker

/// Brokers and clients stay silent: their log lines would land in the benchmark output.
let quietLogger: Logger = {
    var logger = Logger(label: "micro-benchmarks")
    logger.logLevel = .critical
    return logger
}()

/// A MockBroker on a free loopback port with a temporary data directory (removed by `stop()`).
func startLoopbackBroker() async throws -> MockBroker {
    var configuration = MockBrokerConfiguration(host: "127.0.0.1", port: 0)
    // One thread: the broker does little while a benchmark is measured, and the machine may have two cores.
    configuration.eventLoopThreads = 1
    return try await MockBroker.start(configuration: configuration, logger: quietLogger)
}

/// What a benchmark's setup starts and its teardown stops: teardown closures are not given the setup's result.
final class Fixture<State> {
    var state: State?
}

struct SetupFailure: Error, CustomStringConvertible {
    var description: String
}
