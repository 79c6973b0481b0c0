/// The sparse offset index of a segment (`.index`): entries of (offset relative to the segment's base offset:
/// `UInt32`, byte position of a batch starting at that offset: `UInt32`), big-endian, ascending — one entry about
/// every `index.interval.bytes` of log.
final class OffsetIndex {
    static let entrySize = 8
    let baseOffset: Int64
    let file: MappedIndexFile

    init(path: String, baseOffset: Int64, maxBytes: Int) throws(StorageError) {
        self.baseOffset = baseOffset
        file = try MappedIndexFile(path: path, entrySize: Self.entrySize, maxBytes: maxBytes)
    }

    var entryCount: Int { file.entryCount }

    func entry(_ index: Int) -> (offset: Int64, position: Int) {
        let bytes = file.entry(index)
        return (baseOffset + Int64(bytes.loadBigEndian(at: 0, as: UInt32.self)),
                Int(bytes.loadBigEndian(at: 4, as: UInt32.self)))
    }

    func append(offset: Int64, position: Int) {
        file.append { bytes in
            bytes.storeBigEndian(UInt32(truncatingIfNeeded: offset - baseOffset), at: 0)
            bytes.storeBigEndian(UInt32(truncatingIfNeeded: position), at: 4)
        }
    }

    /// The position of the last indexed batch starting at or before `offset` (0 when none is).
    func lookup(_ offset: Int64) -> Int {
        lastPosition { $0.offset <= offset }
    }

    /// The position of the last indexed batch starting at or before byte `position` (0 when none is).
    func lookup(position: Int) -> Int {
        lastPosition { $0.position <= position }
    }

    /// The position of the last entry `isAtOrBefore` holds for (entries ascend in both offset and position, so it
    /// holds for a prefix of them); 0 when it holds for none.
    private func lastPosition(_ isAtOrBefore: ((offset: Int64, position: Int)) -> Bool) -> Int {
        var low = 0
        var high = file.entryCount - 1
        var found = 0
        while low <= high {
            let middle = (low + high) / 2
            let candidate = entry(middle)
            if isAtOrBefore(candidate) {
                found = candidate.position
                low = middle + 1
            } else {
                high = middle - 1
            }
        }
        return found
    }

    /// Whether the entries are ascending, inside the segment and below `logSize`: an index written by a crashed
    /// broker (or damaged) fails this and is rebuilt.
    func isSane(logSize: Int) -> Bool {
        var previous: (offset: Int64, position: Int) = (baseOffset - 1, -1)
        for index in 0..<file.entryCount {
            let current = entry(index)
            guard current.offset > previous.offset, current.position > previous.position, current.position < logSize else {
                return false
            }
            previous = current
        }
        return true
    }

    func truncate(toEntries count: Int) { file.truncate(toEntries: count) }
}

/// The time index of a segment (`.timeindex`): entries of (largest timestamp so far: `Int64`, offset relative to
/// the segment's base: `UInt32`), written with the offset index. Every record before the entry's batch has a
/// timestamp no larger than the entry's, which bounds where a search by timestamp must start.
final class TimeIndex {
    static let entrySize = 12
    let baseOffset: Int64
    let file: MappedIndexFile

    init(path: String, baseOffset: Int64, maxBytes: Int) throws(StorageError) {
        self.baseOffset = baseOffset
        file = try MappedIndexFile(path: path, entrySize: Self.entrySize, maxBytes: maxBytes)
    }

    var entryCount: Int { file.entryCount }

    func entry(_ index: Int) -> (timestamp: Int64, offset: Int64) {
        let bytes = file.entry(index)
        return (bytes.loadBigEndian(at: 0, as: Int64.self), baseOffset + Int64(bytes.loadBigEndian(at: 8, as: UInt32.self)))
    }

    var lastEntry: (timestamp: Int64, offset: Int64)? {
        file.entryCount > 0 ? entry(file.entryCount - 1) : nil
    }

    /// Appends an entry when `timestamp` is larger than the last one's.
    func maybeAppend(timestamp: Int64, offset: Int64) {
        if let last = lastEntry, last.timestamp >= timestamp { return }
        file.append { bytes in
            bytes.storeBigEndian(timestamp, at: 0)
            bytes.storeBigEndian(UInt32(truncatingIfNeeded: offset - baseOffset), at: 8)
        }
    }

    /// The offset to start scanning from for the first record with a timestamp >= `timestamp`: the batch of the
    /// last entry whose timestamp is smaller (all records up to it are smaller), or the segment's base offset.
    func lookup(_ timestamp: Int64) -> Int64 {
        var low = 0
        var high = file.entryCount - 1
        var found = baseOffset
        while low <= high {
            let middle = (low + high) / 2
            let candidate = entry(middle)
            if candidate.timestamp < timestamp {
                found = candidate.offset
                low = middle + 1
            } else {
                high = middle - 1
            }
        }
        return found
    }

    func isSane(nextOffset: Int64) -> Bool {
        var previous: (timestamp: Int64, offset: Int64) = (Int64.min, baseOffset - 1)
        for index in 0..<file.entryCount {
            let current = entry(index)
            guard current.timestamp > previous.timestamp, current.offset >= previous.offset, current.offset < nextOffset else {
                return false
            }
            previous = current
        }
        return true
    }
}
