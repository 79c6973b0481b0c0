import Foundation
import Testing

/// A consumed message as `kcat -C -J` prints it.
public struct KcatMessage: Decodable, Sendable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    /// `create`, `logappend` or `none`.
    public var tstype: String
    public var ts: Int64
    /// Alternating names and values; a null header value is `nil`.
    public var headers: [String?]?
    public var key: String?
    public var payload: String?

    /// ``headers`` as name–value pairs, in order.
    public var headerList: [TextHeader] {
        let flat = headers ?? []
        return stride(from: 0, to: flat.count - 1, by: 2).map { TextHeader(name: flat[$0] ?? "", value: flat[$0 + 1]) }
    }
}

/// What `kcat -L -J` prints.
public struct KcatMetadata: Decodable, Sendable {
    public struct Broker: Decodable, Sendable {
        public var id: Int32
        public var name: String
    }

    public struct Topic: Decodable, Sendable {
        public struct Partition: Decodable, Sendable {
            public var partition: Int32
            public var leader: Int32
        }

        public var topic: String
        public var partitions: [Partition]
    }

    public var brokers: [Broker]
    public var topics: [Topic]
}

/// kcat, librdkafka's command-line client, as a peer.
public struct Kcat: Sendable {
    public let path: String

    /// Fails the test (and throws) when kcat is not installed; see ``Peers``.
    public init(sourceLocation: SourceLocation = #_sourceLocation) throws {
        path = try Peers.requireKcat(sourceLocation: sourceLocation)
    }

    /// Runs kcat with `arguments` (bounded by 60 s, a safety limit).
    public func run(_ arguments: [String], stdin: Data = Data()) async throws -> ProcessOutput {
        try await runProcess(path, arguments, stdin: stdin, limit: .seconds(60))
    }

    /// Produces one message per line (acks=all) and requires kcat to report every delivery.
    public func produce(_ bootstrap: String, topic: String, lines: [String], _ options: [String] = [],
                        sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let input = Data(lines.map { $0 + "\n" }.joined().utf8)
        let output = try await run(["-P", "-b", bootstrap, "-t", topic, "-m", "15", "-X", "acks=all"] + options,
                                   stdin: input)
        try #require(output.succeeded, "\(output.summary)", sourceLocation: sourceLocation)
    }

    /// Consumes every partition of `topic` from the beginning to its end and returns the messages in the order
    /// kcat printed them.
    public func consume(_ bootstrap: String, topic: String, _ options: [String] = [],
                        sourceLocation: SourceLocation = #_sourceLocation) async throws -> [KcatMessage] {
        let output = try await run(["-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q", "-J", "-m", "15"] + options)
        try #require(output.succeeded, "\(output.summary)", sourceLocation: sourceLocation)
        let decoder = JSONDecoder()
        return try output.stdout.split(separator: UInt8(ascii: "\n")).map { line in
            try decoder.decode(KcatMessage.self, from: Data(line))
        }
    }
}
