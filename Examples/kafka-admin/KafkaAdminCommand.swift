import ArgumentParser
import Foundation
import KafkaClient
import Logging

/// `kafka-admin`: topics, consumer groups and the cluster, from the command line. Text output is aligned tables;
/// `--json` prints one JSON document on stdout instead. Errors go to stderr with a non-zero exit status.
@main
struct KafkaAdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka-admin",
        abstract: "Manage Kafka topics, consumer groups and configs.",
        subcommands: [TopicsCommand.self, GroupsCommand.self, ClusterCommand.self]
    )

    /// Options shared by every subcommand may come first (`kafka-admin --bootstrap-server HOST:PORT topics list`):
    /// they are moved after the subcommand, where the argument parser looks for them.
    static func main() async {
        await main(movingSharedOptionsLast(Array(CommandLine.arguments.dropFirst())))
    }

    /// `arguments` with the shared options that precede the first subcommand name moved to the end.
    static func movingSharedOptionsLast(_ arguments: [String]) -> [String] {
        let withValue: Set<String> = ["--bootstrap-server", "--timeout-ms", "--log-level"]
        let flags: Set<String> = ["--json"]
        var shared: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            let name = argument.split(separator: "=", maxSplits: 1).first.map(String.init) ?? argument
            if flags.contains(argument) || (withValue.contains(name) && argument.contains("=")) {
                shared.append(argument)
                index += 1
            } else if withValue.contains(argument) && index + 1 < arguments.count {
                shared += [argument, arguments[index + 1]]
                index += 2
            } else {
                break
            }
        }
        return Array(arguments[index...]) + shared
    }
}

/// Options every subcommand takes (before or after the subcommand's name).
struct AdminOptions: ParsableArguments {
    @Option(name: .customLong("bootstrap-server"), help: "HOST:PORT of a broker (comma-separated for several).")
    var bootstrapServer: String

    @Flag(help: "Print one JSON document on stdout instead of tables.")
    var json = false

    @Option(name: .customLong("timeout-ms"), help: "How long a call may take, retries included (default.api.timeout.ms).")
    var timeoutMs: Int64 = 60000

    @Option(name: .customLong("log-level"), help: "Client log level (on stderr).")
    var logLevel = "error"

    /// Runs `body` with a connected admin client and closes it; errors become a message on stderr and exit 1.
    func withAdmin(_ body: (KafkaAdmin) async throws -> Void) async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .error
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var configuration = AdminConfiguration(bootstrapServers: bootstrapServer)
        configuration.client.clientId = "kafka-admin"
        configuration.defaultApiTimeout = .milliseconds(timeoutMs)
        let admin: KafkaAdmin
        do {
            admin = try KafkaAdmin(configuration: configuration)
        } catch {
            fail("\(error)")
        }
        do {
            try await body(admin)
        } catch let error as ExitCode {
            await admin.close()
            throw error
        } catch {
            await admin.close()
            fail("\(error)")
        }
        await admin.close()
    }

    /// Prints `json` (with `--json`) or `text` on stdout.
    func emit(json: @autoclosure () -> Any, text: @autoclosure () -> String) {
        if self.json {
            let data = (try? JSONSerialization.data(withJSONObject: json(), options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data("null".utf8)
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        } else {
            let out = text()
            FileHandle.standardOutput.write(Data((out.hasSuffix("\n") ? out : out + "\n").utf8))
        }
    }
}

/// Prints `kafka-admin: error: message` on stderr and exits with status 1.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("kafka-admin: error: \(message)\n".utf8))
    exit(1)
}

/// `KEY=VALUE` pairs of `--config`, in order, refusing malformed ones.
func parseConfigs(_ pairs: [String]) throws -> [(String, String)] {
    try pairs.map { pair in
        guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
            throw ValidationError("--config takes KEY=VALUE, not \"\(pair)\"")
        }
        return (String(pair[..<equals]), String(pair[pair.index(after: equals)...]))
    }
}
