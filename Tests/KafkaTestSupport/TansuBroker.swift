import Foundation
import KafkaClient
import NIOCore
import NIOPosix

/// A Tansu broker (an independent, Kafka-protocol broker) running as a child process on a free loopback port, with
/// in-memory storage.
public final class TansuBroker: Sendable {
    /// The process itself: its output, signals, exit.
    public let child: ChildProcess
    /// The `tansu` executable.
    public let binary: String
    public let port: Int

    public var host: String { "127.0.0.1" }
    public var bootstrapServers: String { "\(host):\(port)" }
    /// The address as Tansu's own command line names brokers.
    public var url: String { "tcp://\(host):\(port)" }

    private init(child: ChildProcess, binary: String, port: Int) {
        self.child = child
        self.binary = binary
        self.port = port
    }

    /// Starts `tansu broker` on a loopback port that was free a moment before and waits (up to 30 s, a safety
    /// bound) until it listens there and accepts connections. Another process may take the port in between: then
    /// Tansu exits, and up to `attempts` ports are tried.
    public static func launch(binary: String, attempts: Int = 3) async throws -> TansuBroker {
        var failures: [String] = []
        for _ in 0..<attempts {
            let port = try await freeLoopbackPort()
            let url = "tcp://127.0.0.1:\(port)"
            let child = try ChildProcess.launch(
                binary,
                ["broker", "--listener-url", url, "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"],
                label: "tansu")
            for _ in 0..<1500 where child.isRunning {
                // Tansu's own listener, not another process's that was given the port meanwhile.
                if ProcessInspection.listens(pid: child.pid, port: port), await acceptsConnections(port: port) {
                    return TansuBroker(child: child, binary: binary, port: port)
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
            let status = child.isRunning ? "still not accepting connections after 30 s" : "exited"
            failures.append("port \(port): \(status); stdout:\n\(child.stdout)\nstderr:\n\(child.stderr)")
            await child.terminate()
        }
        throw ProcessFailure("tansu did not start:\n" + failures.joined(separator: "\n"))
    }

    /// Creates `topic` with `tansu topic create` (bounded by 30 s) and requires it to succeed.
    public func createTopic(_ topic: String, partitions: Int32) async throws {
        let output = try await runProcess(binary, ["topic", "create", topic, "--broker", url, "--partitions", "\(partitions)"],
                                          limit: .seconds(30))
        guard output.succeeded else { throw ProcessFailure("creating topic \(topic): \(output.summary)") }
    }

    /// A raw connection to the broker (ApiVersions negotiated); the caller closes it.
    public func connect() async throws -> BrokerConnection {
        try await BrokerConnection.connectForTests(host: host, port: port)
    }

    /// Kills the broker (by its PID) and removes its captured output.
    public func stop() async {
        await child.terminate()
    }

    /// A port on 127.0.0.1 nobody listened on a moment ago: bound with port 0, read back, released.
    static func freeLoopbackPort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port
        try await channel.close()
        guard let port, port > 0 else { throw ProcessFailure("the system gave no free loopback port") }
        return port
    }

    /// Whether a TCP connection to 127.0.0.1:`port` succeeds (then closed at once).
    static func acceptsConnections(port: Int) async -> Bool {
        guard let channel = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(1))
            .connect(host: "127.0.0.1", port: port).get() else { return false }
        try? await channel.close()
        return true
    }
}

/// Runs a Tansu broker for the duration of `body`; whatever happens, it is not left running.
public func withTansu<T>(binary: String, _ body: (TansuBroker) async throws -> T) async throws -> T {
    let broker = try await TansuBroker.launch(binary: binary)
    do {
        let result = try await body(broker)
        await broker.stop()
        return result
    } catch {
        await broker.stop()
        throw error
    }
}
