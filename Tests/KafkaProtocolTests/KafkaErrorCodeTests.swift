import Foundation
import Testing

@testable import KafkaProtocol

@Suite("KafkaErrorCode")
struct KafkaErrorCodeTests {
    // MARK: Committed checks (always run)

    struct SpotCheck: Sendable, CustomTestStringConvertible {
        let code: Int16
        let name: String
        let retriable: Bool
        let constant: KafkaErrorCode

        var testDescription: String { "\(code) \(name)" }
    }

    static let spotChecks: [SpotCheck] = [
        SpotCheck(code: -1, name: "UNKNOWN_SERVER_ERROR", retriable: false, constant: .unknownServerError),
        SpotCheck(code: 0, name: "NONE", retriable: false, constant: .none),
        SpotCheck(code: 1, name: "OFFSET_OUT_OF_RANGE", retriable: false, constant: .offsetOutOfRange),
        SpotCheck(code: 2, name: "CORRUPT_MESSAGE", retriable: true, constant: .corruptMessage),
        SpotCheck(code: 3, name: "UNKNOWN_TOPIC_OR_PARTITION", retriable: true, constant: .unknownTopicOrPartition),
        SpotCheck(code: 6, name: "NOT_LEADER_OR_FOLLOWER", retriable: true, constant: .notLeaderOrFollower),
        SpotCheck(code: 10, name: "MESSAGE_TOO_LARGE", retriable: false, constant: .messageTooLarge),
        SpotCheck(code: 16, name: "NOT_COORDINATOR", retriable: true, constant: .notCoordinator),
        SpotCheck(code: 17, name: "INVALID_TOPIC_EXCEPTION", retriable: false, constant: .invalidTopicException),
        SpotCheck(code: 27, name: "REBALANCE_IN_PROGRESS", retriable: false, constant: .rebalanceInProgress),
        SpotCheck(code: 35, name: "UNSUPPORTED_VERSION", retriable: false, constant: .unsupportedVersion),
        SpotCheck(code: 41, name: "NOT_CONTROLLER", retriable: true, constant: .notController),
        SpotCheck(code: 45, name: "OUT_OF_ORDER_SEQUENCE_NUMBER", retriable: false, constant: .outOfOrderSequenceNumber),
        SpotCheck(code: 51, name: "CONCURRENT_TRANSACTIONS", retriable: true, constant: .concurrentTransactions),
        SpotCheck(code: 56, name: "KAFKA_STORAGE_ERROR", retriable: true, constant: .kafkaStorageError),
        SpotCheck(code: 59, name: "UNKNOWN_PRODUCER_ID", retriable: false, constant: .unknownProducerId),
        SpotCheck(code: 79, name: "MEMBER_ID_REQUIRED", retriable: false, constant: .memberIdRequired),
        SpotCheck(code: 89, name: "THROTTLING_QUOTA_EXCEEDED", retriable: true, constant: .throttlingQuotaExceeded),
        SpotCheck(code: 90, name: "PRODUCER_FENCED", retriable: false, constant: .producerFenced),
        SpotCheck(code: 100, name: "UNKNOWN_TOPIC_ID", retriable: true, constant: .unknownTopicId),
        SpotCheck(code: 113, name: "STALE_MEMBER_EPOCH", retriable: false, constant: .staleMemberEpoch),
        SpotCheck(code: 122, name: "SHARE_SESSION_NOT_FOUND", retriable: true, constant: .shareSessionNotFound),
        SpotCheck(code: 129, name: "REBOOTSTRAP_REQUIRED", retriable: false, constant: .rebootstrapRequired),
    ]

    @Test("Spot checks against Kafka's error table", arguments: spotChecks)
    func spotCheck(_ check: SpotCheck) {
        let code = KafkaErrorCode(rawValue: check.code)
        #expect(code == check.constant)
        #expect(check.constant.rawValue == check.code)
        #expect(code.name == check.name)
        #expect(code.isRetriable == check.retriable)
        #expect(code.isKnown)
        #expect(code.isError == (check.code != 0))
    }

    /// Every retriable code in Kafka 4.0's error table; all other known codes are not retriable.
    static let retriableCodes: Set<Int16> = [
        2, 3, 5, 6, 7, 9, 13, 14, 15, 16, 19, 20, 41, 51, 56, 70, 71, 72, 74, 75, 78, 80, 83, 84, 88, 89,
        100, 103, 106, 122, 123,
    ]

    @Test func retriableFlagsMatchTheCommittedSet() {
        let retriable = Set(KafkaErrorCode.allKnown.filter(\.isRetriable).map(\.rawValue))
        #expect(retriable == Self.retriableCodes)
    }

    @Test func allKnownCoversTheWholeTableInAscendingOrder() {
        let codes = KafkaErrorCode.allKnown.map(\.rawValue)
        #expect(codes.first == -1)
        #expect(codes.last == 129)
        #expect(codes == Array(-1...129), "Kafka 4.0 has no gaps between -1 and 129")
        #expect(codes.count == 131)
        #expect(codes == codes.sorted())
        #expect(Set(codes).count == codes.count, "duplicate code in the table")
        #expect(KafkaErrorCode.entriesByCode.count == KafkaErrorCode.table.count)
        #expect(KafkaErrorCode.allKnown.allSatisfy { $0.isKnown })
    }

    @Test func namesAreUniqueUpperSnakeCase() {
        let names = KafkaErrorCode.allKnown.map(\.name)
        #expect(Set(names).count == names.count, "duplicate name in the table")
        for name in names {
            let ok = !name.isEmpty
                && name.first != "_" && name.last != "_"
                && name.unicodeScalars.allSatisfy { ("A"..."Z").contains($0) || $0 == "_" }
            #expect(ok, "\(name) is not UPPER_SNAKE_CASE")
        }
    }

    @Test func explanationsAreSingleSentences() {
        for code in KafkaErrorCode.allKnown {
            let text = code.explanation
            #expect(!text.isEmpty, "\(code.name) has no explanation")
            #expect(text.first?.isUppercase == true, "\(code.name): \(text)")
            #expect(text.hasSuffix("."), "\(code.name): \(text)")
            #expect(!text.contains("\n"), "\(code.name): \(text)")
            #expect(!text.dropLast().contains(". "), "\(code.name) has more than one sentence: \(text)")
        }
    }

    @Test func unknownCodesAreRepresentable() {
        let code = KafkaErrorCode(rawValue: 9999)
        #expect(code.rawValue == 9999)
        #expect(!code.isKnown)
        #expect(code.name == "UNKNOWN_ERROR_CODE_9999")
        #expect(!code.isRetriable)
        #expect(code.isError)
        #expect(!code.explanation.isEmpty)
        #expect(code.description.hasPrefix("UNKNOWN_ERROR_CODE_9999 (9999): "))
        #expect(code != .unknownServerError)
        #expect(!KafkaErrorCode.allKnown.contains(code))

        let negative = KafkaErrorCode(rawValue: -2)
        #expect(negative.name == "UNKNOWN_ERROR_CODE_-2")
        #expect(!negative.isRetriable)
        #expect(negative.isError)
    }

    @Test func noneIsTheOnlyNonError() {
        #expect(!KafkaErrorCode.none.isError)
        #expect(!KafkaErrorCode.none.isRetriable)
        #expect(KafkaErrorCode.allKnown.filter { !$0.isError } == [KafkaErrorCode.none])
    }

    @Test func descriptionNamesTheCodeAndExplainsIt() {
        let code = KafkaErrorCode.notLeaderOrFollower
        #expect(code.description == "NOT_LEADER_OR_FOLLOWER (6): \(code.explanation)")
        #expect(String(describing: code) == code.description)
        #expect(KafkaErrorCode.unknownServerError.description.hasPrefix("UNKNOWN_SERVER_ERROR (-1): "))
    }

    @Test func valueSemantics() {
        #expect(KafkaErrorCode(rawValue: 6) == .notLeaderOrFollower)
        #expect(KafkaErrorCode(rawValue: 6).hashValue == KafkaErrorCode.notLeaderOrFollower.hashValue)
        let set: Set<KafkaErrorCode> = [.messageTooLarge, KafkaErrorCode(rawValue: 10), .none]
        #expect(set.count == 2)
        #expect(KafkaErrorCode(rawValue: KafkaErrorCode.requestTimedOut.rawValue) == .requestTimedOut)
    }

    @Test func canBeThrownAndCaught() {
        func fail() throws { throw KafkaErrorCode.unsupportedVersion }
        #expect(throws: KafkaErrorCode.unsupportedVersion) { try fail() }
        do {
            try fail()
        } catch let error as KafkaErrorCode {
            #expect(error.name == "UNSUPPORTED_VERSION")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    // MARK: Checks against Kafka's reference files (only where they are present)

    @Test(
        "Every code in protocol.html's error table matches by name and retriable flag",
        .enabled(
            if: !ProtocolReference.errorTable.isEmpty,
            "needs ../shared/reference/kafka-protocol/protocol.html with its error table rendered"
        )
    )
    func matchesProtocolHTML() {
        let rows = ProtocolReference.errorTable
        #expect(
            rows.map(\.code) == KafkaErrorCode.allKnown.map(\.rawValue),
            "the set of codes differs from the reference table"
        )
        for row in rows {
            let code = KafkaErrorCode(rawValue: row.code)
            #expect(code.isKnown, "code \(row.code) \(row.name) is missing")
            #expect(code.name == row.name, "code \(row.code)")
            #expect(code.isRetriable == row.retriable, "code \(row.code) \(row.name)")
        }
    }

    @Test(
        "Every error named in the message schemas' comments is known",
        .enabled(
            if: !ProtocolReference.errorNamesInMessageComments.isEmpty,
            "needs ../shared/reference/kafka-protocol/messages/*.json"
        )
    )
    func messageCommentsNameKnownErrors() {
        let known = Set(KafkaErrorCode.allKnown.map(\.name))
        // The schemas were written while INVALID_REGULAR_EXPRESSION (128) was still being designed and
        // ConsumerGroupHeartbeatResponse.json names it by its working title.
        let renamed: Set<String> = ["INVALID_SUBSCRIPTION_REGEX"]
        for name in ProtocolReference.errorNamesInMessageComments.sorted() where !renamed.contains(name) {
            #expect(known.contains(name), "\(name) is mentioned in a message schema but not known")
        }
    }
}

/// Reads Kafka's reference files from `/work/shared/reference/kafka-protocol` (found relative to this
/// file: `<repo>/../shared/reference/kafka-protocol`). CI clones the repository without them, in which
/// case every property here is empty and the tests that use them are skipped.
enum ProtocolReference {
    struct Row: Sendable, Equatable {
        let name: String
        let code: Int16
        let retriable: Bool
    }

    static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // KafkaProtocolTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // repository root
        .deletingLastPathComponent()  // its parent
        .appendingPathComponent("shared/reference/kafka-protocol", isDirectory: true)

    /// The rows of the error table, in document order; empty if there is no table to read.
    ///
    /// Kafka's source `protocol.html` does not contain the table itself, only a server-side include
    /// (`<!--#include virtual="generated/protocol_errors.html" -->`) filled in when the site is built.
    /// So the rows are taken from `protocol.html` if it has them (a rendered copy), and otherwise from
    /// the included `generated/protocol_errors.html` if that file sits next to it.
    static let errorTable: [Row] = {
        let main = directory.appendingPathComponent("protocol.html")
        guard let html = try? String(contentsOf: main, encoding: .utf8) else { return [] }
        let rows = parseErrorRows(html)
        if !rows.isEmpty { return rows }
        let included = directory.appendingPathComponent("generated/protocol_errors.html")
        guard html.contains("generated/protocol_errors.html"),
              let fragment = try? String(contentsOf: included, encoding: .utf8)
        else { return [] }
        return parseErrorRows(fragment)
    }()

    /// Rows of the form `<tr><td>NAME</td><td>CODE</td><td>True|False</td><td>…</td></tr>`. Other tables
    /// in the document (API keys, message fields) never have a True/False third column.
    static func parseErrorRows(_ html: String) -> [Row] {
        var rows: [Row] = []
        for chunk in html.components(separatedBy: "<tr").dropFirst() {
            let cells = tableCells(in: chunk)
            guard cells.count >= 3,
                  let code = Int16(cells[1]),
                  cells[2] == "True" || cells[2] == "False",
                  !cells[0].isEmpty,
                  cells[0].unicodeScalars.allSatisfy({ ("A"..."Z").contains($0) || $0 == "_" })
            else { continue }
            rows.append(Row(name: cells[0], code: code, retriable: cells[2] == "True"))
        }
        return rows
    }

    /// The trimmed text of each `<td>` in one row (up to its `</tr>`), with any inner tags removed.
    private static func tableCells(in row: String) -> [String] {
        let row = row.components(separatedBy: "</tr>").first ?? row
        var cells: [String] = []
        var rest = Substring(row)
        while let open = rest.range(of: "<td") {
            guard let tagEnd = rest[open.upperBound...].firstIndex(of: ">"),
                  let close = rest[tagEnd...].range(of: "</td>")
            else { break }
            let raw = rest[rest.index(after: tagEnd)..<close.lowerBound]
            cells.append(stripTags(raw).trimmingCharacters(in: .whitespacesAndNewlines))
            rest = rest[close.upperBound...]
        }
        return cells
    }

    private static func stripTags(_ text: Substring) -> String {
        var out = ""
        var inTag = false
        for character in text {
            if character == "<" { inTag = true } else if character == ">" { inTag = false } else if !inTag {
                out.append(character)
            }
        }
        return out
    }

    /// Error names listed in the `// Supported errors:` comments of `messages/*.json`, lines like
    /// `//   - NOT_LEADER_OR_FOLLOWER (version 0+)`.
    static let errorNamesInMessageComments: Set<String> = {
        let messages = directory.appendingPathComponent("messages", isDirectory: true)
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: messages.path) else { return [] }
        var names: Set<String> = []
        for file in files where file.hasSuffix(".json") {
            guard let text = try? String(contentsOf: messages.appendingPathComponent(file), encoding: .utf8)
            else { continue }
            for line in text.split(separator: "\n") {
                let trimmed = line.drop { $0 == " " || $0 == "\t" }
                guard trimmed.hasPrefix("//") else { continue }
                let item = trimmed.dropFirst(2).drop { $0 == " " }
                guard item.hasPrefix("-") else { continue }
                let word = item.dropFirst().drop { $0 == " " }
                    .prefix { ("A"..."Z").contains($0) || $0 == "_" }
                if word.count > 2, word.contains("_") { names.insert(String(word)) }
            }
        }
        return names
    }()
}
