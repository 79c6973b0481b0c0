import Foundation
import KafkaClient

/// This package's root directory, found from this file's path.
public let packageRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()  // KafkaTestSupport
    .deletingLastPathComponent()  // Tests
    .deletingLastPathComponent()

/// The helper scripts of a test target: the `Scripts` folder next to `file` (the caller's source file by
/// default). Test targets exclude that folder from their sources.
public func scriptsDirectory(nextTo file: String = #filePath) -> String {
    URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent("Scripts").path
}

/// The built `mock-broker` executable.
public enum MockBrokerExecutable {
    /// Finds `mock-broker`: `MOCK_BROKER_BINARY` when set, else where ``BuiltExecutable/locate(_:override:)`` looks.
    public static func locate() throws -> String {
        try BuiltExecutable.locate("mock-broker", override: "MOCK_BROKER_BINARY")
    }
}

/// Executables this package builds (`mock-broker`, the examples), for tests that run them as child processes.
public enum BuiltExecutable {
    /// Finds the executable `name`: the path in the environment variable `override` when set, else next to the
    /// running test executable (what `swift build --build-tests` and `swift test` produce, whatever the scratch
    /// path), else under the package's default build directory.
    public static func locate(_ name: String, override: String) throws -> String {
        var candidates: [String] = []
        if let explicit = ProcessInfo.processInfo.environment[override] { candidates.append(explicit) }
        var directories: [URL] = []
        if let first = CommandLine.arguments.first {
            let url = URL(fileURLWithPath: first, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
            directories.append(url.deletingLastPathComponent())
            directories.append(url.resolvingSymlinksInPath().deletingLastPathComponent())
        }
        if let executable = Bundle.main.executableURL { directories.append(executable.deletingLastPathComponent()) }
        for bundle in Bundle.allBundles where bundle.bundleURL.pathExtension == "xctest" {
            directories.append(bundle.bundleURL.deletingLastPathComponent())
        }
        directories.append(packageRoot.appendingPathComponent(".build/debug"))
        candidates += directories.map { $0.appendingPathComponent(name).path }
        if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) { return found }
        throw ProcessFailure("""
            the \(name) executable was not found (looked at: \(candidates.joined(separator: ", "))). \
            Build it first: `swift build --build-tests` (or `swift build --product \(name)`), \
            or point \(override) at it.
            """)
    }
}

/// A running `mock-broker` child process on a free loopback port.
public final class BrokerProcess: Sendable {
    /// The process itself: its output, signals, exit.
    public let child: ChildProcess
    public let port: Int
    /// The line it announced its address with.
    public let listeningLine: String

    public var pid: Int32 { child.pid }
    public var host: String { "127.0.0.1" }
    public var bootstrapServers: String { "\(host):\(port)" }
    /// Everything the broker printed on stdout so far.
    public var stdout: String { child.stdout }
    /// Its log.
    public var stderr: String { child.stderr }
    public var isRunning: Bool { child.isRunning }

    private init(child: ChildProcess, port: Int, listeningLine: String) {
        self.child = child
        self.port = port
        self.listeningLine = listeningLine
    }

    /// Starts `mock-broker --host 127.0.0.1 --port 0 --data-dir dataDirectory arguments...` and waits (up to 30 s,
    /// a safety bound) for the line announcing its address.
    public static func launch(dataDirectory: String, arguments: [String] = []) async throws -> BrokerProcess {
        let child = try ChildProcess.launch(
            try MockBrokerExecutable.locate(),
            ["--host", "127.0.0.1", "--port", "0", "--data-dir", dataDirectory, "--log-level", "info"] + arguments,
            label: "mock-broker-process")
        for _ in 0..<1500 {
            let text = child.stdout
            if let newline = text.firstIndex(of: "\n") {
                let line = String(text[..<newline])
                guard let port = try? parsePort(line) else {
                    await child.terminate()
                    throw ProcessFailure("mock-broker printed an unexpected first line: \(line)")
                }
                return BrokerProcess(child: child, port: port, listeningLine: line)
            }
            if !child.isRunning { break }
            try? await Task.sleep(for: .milliseconds(20))
        }
        let status = child.isRunning ? "still running" : "\(await child.waitForExit(limit: .seconds(1)).map(\.description) ?? "?")"
        let log = child.stderr
        await child.terminate()
        throw ProcessFailure("mock-broker did not announce its address (\(status)); stderr:\n\(log)")
    }

    /// `mock-broker listening on 127.0.0.1:PORT` → PORT.
    public static func parsePort(_ line: String) throws -> Int {
        let prefix = "mock-broker listening on 127.0.0.1:"
        guard line.hasPrefix(prefix), let port = Int(line.dropFirst(prefix.count)), port > 0, port < 65536 else {
            throw ProcessFailure("not an address line: \(line)")
        }
        return port
    }

    /// Sends `signal` to the broker (by its PID) if it is still running.
    public func send(_ signal: Int32) {
        child.send(signal)
    }

    /// Waits (up to `limit`, a safety bound) for the broker to end; nil if it is still running.
    public func waitForExit(limit: Duration = .seconds(30)) async -> ExitStatus? {
        await child.waitForExit(limit: limit)
    }

    /// A raw connection to the broker; the caller closes it.
    public func connect() async throws -> BrokerConnection {
        try await BrokerConnection.connectForTests(host: host, port: port)
    }
}

/// Runs a `mock-broker` child process for the duration of `body`; whatever happens, it is not left running.
public func withBrokerProcess<T>(dataDirectory: String, arguments: [String] = [],
                                 _ body: (BrokerProcess) async throws -> T) async throws -> T {
    let broker = try await BrokerProcess.launch(dataDirectory: dataDirectory, arguments: arguments)
    do {
        let result = try await body(broker)
        await broker.child.terminate()
        return result
    } catch {
        await broker.child.terminate()
        throw error
    }
}
