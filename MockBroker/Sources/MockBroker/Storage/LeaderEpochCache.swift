/// A partition's leader epochs and the offset at which each began, as Kafka's `leader-epoch-checkpoint` keeps
/// them: a text file of `0` (the format version), the entry count, then one `epoch startOffset` line per epoch,
/// oldest first. OffsetForLeaderEpoch answers from it, so a replica (or a client, KIP-320) can find where its log
/// and the leader's diverge.
///
/// Not thread-safe: ``PartitionLog`` serialises every call.
struct LeaderEpochCache {
    struct Entry: Hashable, Sendable {
        var epoch: Int32
        var startOffset: Int64
    }

    static let fileName = "leader-epoch-checkpoint"

    private(set) var entries: [Entry]
    private let path: String

    /// Reads the checkpoint in `directory`; a missing or unreadable one gives an empty cache.
    init(directory: String) {
        path = "\(directory)/\(Self.fileName)"
        entries = Self.parse((try? readSmallFile(path)) ?? "")
    }

    static func parse(_ text: String) -> [Entry] {
        let lines = text.split(whereSeparator: \.isNewline)
        guard lines.count >= 2, lines[0] == "0", let count = Int(lines[1]), count >= 0, lines.count >= 2 + count else {
            return []
        }
        var entries: [Entry] = []
        for line in lines[2..<(2 + count)] {
            let fields = line.split(separator: " ")
            guard fields.count == 2, let epoch = Int32(fields[0]), let offset = Int64(fields[1]) else { return [] }
            if let last = entries.last, epoch <= last.epoch || offset < last.startOffset { return [] }
            entries.append(Entry(epoch: epoch, startOffset: offset))
        }
        return entries
    }

    var latestEpoch: Int32? { entries.last?.epoch }

    /// Records that `epoch` starts at `startOffset` (Kafka's `assign`): ignored unless newer than the latest epoch;
    /// entries starting at or after `startOffset` are replaced.
    mutating func assign(epoch: Int32, startOffset: Int64) {
        if let latest = entries.last?.epoch, epoch <= latest { return }
        entries.removeAll { $0.startOffset >= startOffset }
        entries.append(Entry(epoch: epoch, startOffset: startOffset))
        write()
    }

    /// Kafka's `endOffsetFor`: the largest epoch at most `requested` and the offset where the next epoch began
    /// (the log end offset for the latest epoch). Nil (undefined epoch and offset) when `requested` is newer than
    /// every epoch, or the cache is empty.
    func endOffset(for requested: Int32, logEndOffset: Int64) -> (epoch: Int32, endOffset: Int64)? {
        guard let latest = entries.last else { return nil }
        if requested == latest.epoch { return (latest.epoch, logEndOffset) }
        guard let higher = entries.firstIndex(where: { $0.epoch > requested }) else { return nil }
        let startOfHigher = entries[higher].startOffset
        if higher == 0 { return (requested, startOfHigher) }
        return (entries[higher - 1].epoch, startOfHigher)
    }

    /// Drops epochs that start at or after `offset` (the log was truncated there).
    mutating func truncate(from offset: Int64) {
        let before = entries.count
        entries.removeAll { $0.startOffset >= offset }
        if entries.count != before { write() }
    }

    /// Moves the first epoch's start up to `offset` (the log start moved past it), dropping epochs wholly below.
    mutating func truncate(before offset: Int64) {
        var changed = false
        while entries.count > 1, entries[1].startOffset <= offset {
            entries.removeFirst()
            changed = true
        }
        if let first = entries.first, first.startOffset < offset {
            entries[0].startOffset = offset
            changed = true
        }
        if changed { write() }
    }

    /// Forgets every epoch (the partition's log is deleted).
    mutating func clear() {
        entries.removeAll()
        write()
    }

    private func write() {
        var text = "0\n\(entries.count)\n"
        for entry in entries { text += "\(entry.epoch) \(entry.startOffset)\n" }
        try? writeSmallFile(path, contents: text)
    }
}
