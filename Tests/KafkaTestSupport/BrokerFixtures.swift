import Foundation
import KafkaClient
import Logging
import MockBroker
import NIOCore

/// The logger tests hand to brokers and clients. Silent (`critical`) unless the environment variable
/// `TEST_LOG_LEVEL` names a level (`trace`, `debug`, `info`, ...).
public let testLogger: Logger = {
    var logger = Logger(label: "kafka-tests")
    logger.logLevel = ProcessInfo.processInfo.environment["TEST_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .critical
    return logger
}()

/// Starts an in-process ``MockBroker`` on a free loopback port for the duration of `body`, and always stops it,
/// whether `body` returns or throws.
///
/// - Parameters:
///   - configure: Changes to the test configuration (127.0.0.1, port 0, in-memory storage, two event-loop threads).
///   - body: The test, given the running broker.
public func withBroker<T>(
    _ configure: (inout MockBrokerConfiguration) -> Void = { _ in },
    _ body: (MockBroker) async throws -> T
) async throws -> T {
    var configuration = MockBrokerConfiguration(host: "127.0.0.1", port: 0)
    configuration.eventLoopThreads = 2
    configure(&configuration)
    let broker = try await MockBroker.start(configuration: configuration, logger: testLogger)
    do {
        let result = try await body(broker)
        try await broker.stop()
        return result
    } catch {
        try? await broker.stop()
        throw error
    }
}

extension BrokerConnection.Configuration {
    /// A connection configuration for tests: a client id that names them and a request timeout that bounds every
    /// request (a safety bound, never an assertion).
    public static func forTests(requestTimeout: TimeAmount = .seconds(15)) -> Self {
        var configuration = Self()
        configuration.clientId = "kafka-tests"
        configuration.requestTimeout = requestTimeout
        return configuration
    }
}

extension BrokerConnection {
    /// Connects to `host`:`port` with ``BrokerConnection/Configuration/forTests(requestTimeout:)``.
    public static func connectForTests(host: String, port: Int, requestTimeout: TimeAmount = .seconds(15)) async throws -> BrokerConnection {
        try await connect(host: host, port: port, configuration: .forTests(requestTimeout: requestTimeout))
    }
}

extension MockBroker {
    /// A raw connection to this broker (ApiVersions already negotiated); the caller closes it.
    public func connect(timeout: TimeAmount = .seconds(15)) async throws -> BrokerConnection {
        try await BrokerConnection.connectForTests(host: host, port: port, requestTimeout: timeout)
    }
}
