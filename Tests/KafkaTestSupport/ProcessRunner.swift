import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process that did not do what a test needed (did not start, did not finish in time, printed something
/// unexpected).
public struct ProcessFailure: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// How a child process ended.
public struct ExitStatus: Sendable, Hashable, CustomStringConvertible {
    /// True when it called `exit` (or returned from `main`); false when a signal ended it.
    public var exitedNormally: Bool
    /// The exit status, or the signal's number when ``exitedNormally`` is false.
    public var status: Int32

    public var description: String { "\(exitedNormally ? "status" : "signal") \(status)" }
}

/// What a finished child process left behind.
public struct ProcessOutput: Sendable {
    /// The command line, shortened for messages.
    public var command: String
    public var status: Int32
    public var exitedNormally: Bool
    public var stdout: Data
    public var stderr: String

    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var succeeded: Bool { exitedNormally && status == 0 }
    /// For expectation messages.
    public var summary: String {
        "`\(command)` exited with \(ExitStatus(exitedNormally: exitedNormally, status: status)); stderr:\n\(stderr)"
    }
}

/// A process a test started, with its standard output and error captured in files (a chatty child can never block
/// on a full pipe). Signals go to this process's own PID, and only while it is still running; ``terminate()``
/// kills it if needed and removes the captured output.
///
/// Started with `posix_spawn`, not Foundation's `Process`: on Linux `Process.run()` crashes now and then (a read past
/// the end of a directory entry while it lists `/proc/self/fd`; swift-corelibs-foundation PR #5472), which took the
/// whole test run down in CI.
///
/// `@unchecked Sendable`: the exit status is cached under `lock`; everything else is constant.
public final class ChildProcess: @unchecked Sendable {
    public let pid: Int32
    /// The command line, shortened for messages.
    public let command: String
    private let outputDirectory: String
    private let lock = NSLock()
    private var exit: ExitStatus?

    private init(pid: Int32, command: String, outputDirectory: String) {
        self.pid = pid
        self.command = command
        self.outputDirectory = outputDirectory
    }

    /// Starts `executable` with `arguments`; `stdin` (when given) is its whole input, else it reads `/dev/null`.
    public static func launch(_ executable: String, _ arguments: [String], stdin: Data? = nil,
                              label: String = "child-process") throws -> ChildProcess {
        let directory = try makeTemporaryDirectory(label)
        let command = ([executable] + arguments).map { $0.count > 80 ? String($0.prefix(77)) + "..." : $0 }
            .joined(separator: " ")
        do {
            var inputPath = "/dev/null"
            if let stdin {
                inputPath = "\(directory)/stdin"
                try stdin.write(to: URL(fileURLWithPath: inputPath))
            }
            let pid = try spawn(executable, arguments, stdin: inputPath, stdout: "\(directory)/stdout",
                                stderr: "\(directory)/stderr")
            return ChildProcess(pid: pid, command: command, outputDirectory: directory)
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw ProcessFailure("could not start `\(command)`: \(error)")
        }
    }

    /// `posix_spawn` with the three standard streams opened from files, every other descriptor closed, and the
    /// signal mask cleared (the threads Swift concurrency runs on block most signals, and a child inherits the
    /// mask: started from one, kcat would never see SIGTERM).
    private static func spawn(_ executable: String, _ arguments: [String], stdin: String, stdout: String,
                              stderr: String) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // glibc 2.34+ closes every other descriptor in the child; Swift's Glibc module does not declare it.
        if let closeFrom = closeFromAction { _ = closeFrom(&actions, 3) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard result == 0 else { throw ProcessFailure(String(cString: strerror(result))) }
        return pid
    }

    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static let closeFromAction: CloseFrom? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
        .map { unsafeBitCast($0, to: CloseFrom.self) }

    /// The exit status once the process has ended (reaped here, by its PID), nil while it runs.
    private func reap() -> ExitStatus? {
        lock.lock()
        defer { lock.unlock() }
        if let exit { return exit }
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
        let signal = status & 0x7f
        exit = signal == 0 ? ExitStatus(exitedNormally: true, status: (status >> 8) & 0xff)
                           : ExitStatus(exitedNormally: false, status: signal)
        return exit
    }

    /// Everything it printed on standard output so far.
    public var stdoutData: Data { (try? Data(contentsOf: URL(fileURLWithPath: "\(outputDirectory)/stdout"))) ?? Data() }
    public var stdout: String { String(decoding: stdoutData, as: UTF8.self) }
    /// Everything it printed on standard error so far.
    public var stderr: String { (try? String(contentsOfFile: "\(outputDirectory)/stderr", encoding: .utf8)) ?? "" }

    public var isRunning: Bool { reap() == nil }

    /// Sends `signal` to this process (by its PID) if it is still running.
    public func send(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    /// Waits, polling, up to `limit` (a safety bound) for the process to end; nil if it is still running.
    public func waitForExit(limit: Duration = .seconds(30)) async -> ExitStatus? {
        let deadline = ContinuousClock.now + limit
        for _ in 0..<Self.polls(limit) where isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return finished()
    }

    /// ``waitForExit(limit:)`` for synchronous callers (trait conditions and other static initialisers).
    public func waitForExitBlocking(limit: Duration = .seconds(30)) -> ExitStatus? {
        let deadline = ContinuousClock.now + limit
        for _ in 0..<Self.polls(limit) where isRunning && ContinuousClock.now < deadline {
            usleep(20_000)
        }
        return finished()
    }

    /// Kills the process (SIGKILL, by its PID) if it still runs, waits for it (bounded) and removes its captured
    /// output. Safe to call more than once.
    public func terminate() async {
        if isRunning {
            kill(pid, SIGKILL)
            _ = await waitForExit(limit: .seconds(10))
        }
        cleanUpFiles()
    }

    /// ``terminate()`` for synchronous callers.
    public func terminateBlocking() {
        if isRunning {
            kill(pid, SIGKILL)
            _ = waitForExitBlocking(limit: .seconds(10))
        }
        cleanUpFiles()
    }

    private func finished() -> ExitStatus? {
        reap()
    }

    private func cleanUpFiles() {
        try? FileManager.default.removeItem(atPath: outputDirectory)
    }

    private static func polls(_ limit: Duration) -> Int {
        max(1, Int(limit.components.seconds) * 50 + Int(limit.components.attoseconds / 20_000_000_000_000_000))
    }
}

/// Short-lived helper processes (Python decoders, kcat runs) that may run at once. Tests start them by the
/// hundred in parallel; unbounded, they would starve everything else on a small machine, including the tests
/// that wait for a group to form.
private actor ProcessSlots {
    private var free = max(2, ProcessInfo.processInfo.activeProcessorCount)
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func acquire() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty { free += 1 } else { waiting.removeFirst().resume() }
    }
}

private let processSlots = ProcessSlots()

/// Runs `executable` to completion with `stdin` as its input and returns what it printed. A child still running
/// after `limit` (a safety bound only) is killed by its PID and reported as a ``ProcessFailure``. At most a few
/// run at once (``ProcessSlots``).
public func runProcess(_ executable: String, _ arguments: [String], stdin: Data = Data(),
                       limit: Duration = .seconds(60)) async throws -> ProcessOutput {
    await processSlots.acquire()
    do {
        let output = try await runProcessNow(executable, arguments, stdin: stdin, limit: limit)
        await processSlots.release()
        return output
    } catch {
        await processSlots.release()
        throw error
    }
}

private func runProcessNow(_ executable: String, _ arguments: [String], stdin: Data,
                           limit: Duration) async throws -> ProcessOutput {
    let child = try ChildProcess.launch(executable, arguments, stdin: stdin, label: "process")
    guard let exit = await child.waitForExit(limit: limit) else {
        let stderr = child.stderr
        await child.terminate()
        throw ProcessFailure("`\(child.command)` did not finish within \(limit); killed. stderr:\n\(stderr)")
    }
    let output = ProcessOutput(command: child.command, status: exit.status, exitedNormally: exit.exitedNormally,
                               stdout: child.stdoutData, stderr: child.stderr)
    await child.terminate()
    return output
}

/// ``runProcess(_:_:stdin:limit:)`` for synchronous callers (trait conditions); nil when the command could not
/// start or did not finish within `limit` (it is then killed).
public func runProcessBlocking(_ executable: String, _ arguments: [String],
                               limit: Duration = .seconds(60)) -> ProcessOutput? {
    guard let child = try? ChildProcess.launch(executable, arguments, label: "process") else { return nil }
    defer { child.terminateBlocking() }
    guard let exit = child.waitForExitBlocking(limit: limit) else { return nil }
    return ProcessOutput(command: child.command, status: exit.status, exitedNormally: exit.exitedNormally,
                         stdout: child.stdoutData, stderr: child.stderr)
}
