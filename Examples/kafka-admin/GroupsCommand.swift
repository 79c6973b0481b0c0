import ArgumentParser
import Foundation
import KafkaClient
import KafkaProtocol

/// `kafka-admin groups ...`
struct GroupsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "groups",
        abstract: "List, describe and delete consumer groups; show their lag and reset their offsets.",
        subcommands: [List.self, Describe.self, Delete.self, Lag.self, ResetOffsets.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List consumer groups.")
        @OptionGroup var options: AdminOptions

        func run() async throws {
            try await options.withAdmin { admin in
                let groups = try await admin.listGroups()
                var table = Table("GROUP", "STATE", "PROTOCOL-TYPE", "COORDINATOR")
                for group in groups {
                    table.add([group.groupId, group.state.isEmpty ? "-" : group.state,
                               group.protocolType.isEmpty ? "-" : group.protocolType, String(group.coordinator)])
                }
                options.emit(
                    json: ["groups": groups.map {
                        ["group": $0.groupId, "state": $0.state, "protocolType": $0.protocolType, "type": $0.type,
                         "coordinator": $0.coordinator] as [String: Any]
                    }],
                    text: table.rendered)
            }
        }
    }

    struct Describe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a group's state and members with their partitions.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "The group's id.") var group: String

        func run() async throws {
            try await options.withAdmin { admin in
                guard let description = try await admin.describeGroups([group]).first, description.state != "Dead" else {
                    fail("consumer group \(group) does not exist")
                }
                var table = Table("MEMBER-ID", "CLIENT-ID", "HOST", "INSTANCE-ID", "PARTITIONS")
                for member in description.members {
                    table.add([member.memberId, member.clientId, member.host, member.groupInstanceId.orDash,
                               member.assignment.isEmpty ? "-" : member.assignment.map(\.description).joined(separator: ",")])
                }
                options.emit(
                    json: [
                        "group": description.groupId, "state": description.state, "protocolType": description.protocolType,
                        "assignor": description.assignor, "coordinator": description.coordinator,
                        "members": description.members.map { member in
                            ["memberId": member.memberId, "clientId": member.clientId, "host": member.host,
                             "groupInstanceId": jsonValue(member.groupInstanceId),
                             "partitions": member.assignment.map { ["topic": $0.topic, "partition": $0.partition] as [String: Any] }] as [String: Any]
                        },
                    ] as [String: Any],
                    text: """
                        Group: \(description.groupId)  State: \(description.state)  Protocol: \(description.protocolType.isEmpty ? "-" : description.protocolType)\
                        \(description.assignor.isEmpty ? "" : "/" + description.assignor)  Coordinator: \(description.coordinator)  Members: \(description.members.count)

                        \(table.rendered)
                        """)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a group (it must have no members) and its offsets.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "The group's id.") var group: String

        func run() async throws {
            try await options.withAdmin { admin in
                try await admin.deleteGroups([group])
                options.emit(json: ["deleted": group], text: "Deleted group \(group)")
            }
        }
    }

    struct Lag: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the group's committed offset, end offset and lag per partition.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "The group's id.") var group: String

        func run() async throws {
            try await options.withAdmin { admin in
                let rows = try await admin.groupLag(group)
                var table = Table("TOPIC", "PARTITION", "COMMITTED", "END-OFFSET", "LAG", "MEMBER-ID", "CLIENT-ID")
                for row in rows {
                    table.add([row.topic, String(row.partition), row.committed.orDash, String(row.endOffset), row.lag.orDash,
                               row.memberId.orDash, row.clientId.orDash])
                }
                let total = rows.reduce(Int64(0)) { $0 + ($1.lag ?? 0) }
                options.emit(
                    json: [
                        "group": group, "totalLag": total,
                        "partitions": rows.map { row in
                            ["topic": row.topic, "partition": row.partition, "committed": jsonValue(row.committed),
                             "endOffset": row.endOffset, "lag": jsonValue(row.lag), "memberId": jsonValue(row.memberId),
                             "clientId": jsonValue(row.clientId)] as [String: Any]
                        },
                    ] as [String: Any],
                    text: table.rendered + "\n\nTotal lag: \(total)")
            }
        }
    }

    struct ResetOffsets: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reset-offsets",
            abstract: "Move a group's committed offsets of a topic (the group must have no active members).")
        @OptionGroup var options: AdminOptions
        @Argument(help: "The group's id.") var group: String
        @Option(help: "The topic whose partitions are reset.") var topic: String
        @Flag(name: .customLong("to-earliest"), help: "To each partition's log start offset.") var toEarliest = false
        @Flag(name: .customLong("to-latest"), help: "To each partition's log end offset.") var toLatest = false
        @Option(name: .customLong("to-datetime"),
                help: "To the first record at or after this time, ISO 8601 (2024-05-01T12:00:00Z, 2024-05-01T12:00:00.000+02:00; UTC without a zone).")
        var toDatetime: String?

        func validate() throws {
            let chosen = [toEarliest, toLatest, toDatetime != nil].filter { $0 }.count
            guard chosen == 1 else { throw ValidationError("give exactly one of --to-earliest, --to-latest, --to-datetime") }
            if let toDatetime, parseDatetime(toDatetime) == nil {
                throw ValidationError("--to-datetime \"\(toDatetime)\" is not an ISO 8601 date and time")
            }
        }

        func run() async throws {
            let spec: OffsetSpec = if toEarliest { .earliest } else if toLatest { .latest }
                else { .timestamp(Int64((parseDatetime(toDatetime!)!.timeIntervalSince1970 * 1000).rounded())) }
            try await options.withAdmin { admin in
                let offsets = try await admin.resetGroupOffsets(group, topic: topic, to: spec)
                    .sorted { ($0.key.topic, $0.key.partition) < ($1.key.topic, $1.key.partition) }
                var table = Table("TOPIC", "PARTITION", "NEW-OFFSET")
                for (partition, offset) in offsets { table.add([partition.topic, String(partition.partition), String(offset)]) }
                options.emit(
                    json: ["group": group, "topic": topic,
                           "offsets": offsets.map { ["topic": $0.key.topic, "partition": $0.key.partition, "offset": $0.value] as [String: Any] }],
                    text: table.rendered)
            }
        }
    }
}

/// An ISO 8601 date and time, with or without fractional seconds and zone (UTC when there is none).
func parseDatetime(_ text: String) -> Date? {
    let zoned = text.hasSuffix("Z") || text.range(of: #"[+-]\d\d:?\d\d$"#, options: .regularExpression) != nil ? text : text + "Z"
    for options: ISO8601DateFormatter.Options in [[.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime]] {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = options
        if let date = formatter.date(from: zoned) { return date }
    }
    return nil
}
