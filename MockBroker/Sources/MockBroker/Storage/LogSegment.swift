import KafkaProtocol
import NIOCore

/// One segment of a partition's log: `<base offset>.log` holding record batches exactly as produced (with the
/// broker's base offset and leader epoch), plus its sparse `.index` and `.timeindex`.
///
/// Not thread-safe: ``PartitionLog`` serialises every call.
final class LogSegment {
    let baseOffset: Int64
    let log: SegmentFile
    let offsetIndex: OffsetIndex
    let timeIndex: TimeIndex
    private let indexIntervalBytes: Int
    /// The offset after the last batch (the base offset while empty).
    private(set) var nextOffset: Int64
    /// The largest batch `maxTimestamp` in the segment, and where that batch starts.
    private(set) var maxTimestamp: Int64 = -1
    private(set) var maxTimestampPosition = -1
    /// Wall-clock milliseconds of the first append, for `segment.ms`.
    private(set) var firstAppendTime: Int64?
    private var bytesSinceLastIndexEntry = 0

    /// The most read at once while walking batch headers.
    static let chunkSize = 64 * 1024
    /// The first read of a walk: the sparse index puts the batch a fetch starts at within about
    /// `index.interval.bytes` (4 KiB) of its entry, and a walk over large batches reads only their headers, so a
    /// fetch from the middle of megabyte batches does not copy 64 KiB per partition to find where to start.
    static let firstChunkSize = 4 * 1024

    static func fileName(_ baseOffset: Int64, _ suffix: String) -> String {
        let digits = String(baseOffset)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + "." + suffix
    }

    /// Opens (or creates) the segment's files. The caller then runs ``recover(maxBatchBytes:)`` or
    /// ``load(maxBatchBytes:)`` to establish the in-memory state.
    init(directory: String, baseOffset: Int64, config: LogConfig, create: Bool) throws(StorageError) {
        self.baseOffset = baseOffset
        nextOffset = baseOffset
        indexIntervalBytes = config.indexIntervalBytes
        log = try SegmentFile(path: "\(directory)/\(Self.fileName(baseOffset, "log"))", create: create)
        offsetIndex = try OffsetIndex(path: "\(directory)/\(Self.fileName(baseOffset, "index"))",
                                      baseOffset: baseOffset, maxBytes: config.maxIndexBytes)
        timeIndex = try TimeIndex(path: "\(directory)/\(Self.fileName(baseOffset, "timeindex"))",
                                  baseOffset: baseOffset, maxBytes: config.maxIndexBytes)
    }

    var size: Int { log.size }
    var isEmpty: Bool { log.size == 0 }

    /// Whether the indexes can take `count` more batches (each adds at most one entry to each index).
    func indexHasRoom(forBatches count: Int) -> Bool {
        offsetIndex.file.hasRoom(forEntries: count) && timeIndex.file.hasRoom(forEntries: count)
    }

    // MARK: - Appending

    /// Appends one batch, given as parts written back to back (the broker's rewritten header prefix, then the
    /// producer's bytes), and indexes it.
    func append(_ header: BatchHeader, parts: [ByteBuffer], now: Int64) throws(StorageError) {
        try append([header], parts: parts, now: now)
    }

    /// Appends batches back to back in one write: `parts` holds their bytes in order, `headers` says where each
    /// begins and ends. Then indexes each.
    func append(_ headers: [BatchHeader], parts: [ByteBuffer], now: Int64) throws(StorageError) {
        var position = log.size
        try log.append(parts)
        if firstAppendTime == nil { firstAppendTime = now }
        for header in headers {
            account(header, at: position)
            position += header.size
        }
    }

    /// Updates the indexes and counters for a batch at `position` (on append and while recovering).
    private func account(_ header: BatchHeader, at position: Int) {
        if header.maxTimestamp > maxTimestamp {
            maxTimestamp = header.maxTimestamp
            maxTimestampPosition = position
        }
        if bytesSinceLastIndexEntry > indexIntervalBytes {
            offsetIndex.append(offset: header.baseOffset, position: position)
            timeIndex.maybeAppend(timestamp: maxTimestamp, offset: header.baseOffset)
            bytesSinceLastIndexEntry = 0
        }
        bytesSinceLastIndexEntry += header.size
        nextOffset = header.nextOffset
    }

    // MARK: - Reading

    /// Calls `body` with each complete batch header from `start` to `end`, reading the file in chunks that grow
    /// from `firstChunkSize` to `chunkSize` while the walk goes on.
    /// Stops when `body` returns false or at a header that is not complete before `end`.
    func forEachBatch(from start: Int, to end: Int, _ body: (BatchHeader, Int) throws -> Bool) throws {
        var position = start
        var chunk = ByteBuffer()
        var chunkStart = start
        var chunkSize = Self.firstChunkSize
        while end - position >= RecordBatchLayout.headerSize {
            if position + RecordBatchLayout.headerSize > chunkStart + chunk.readableBytes {
                chunkStart = position
                chunk = try log.read(at: position, length: min(chunkSize, end - position))
                chunkSize = min(chunkSize * 2, Self.chunkSize)
            }
            guard let header = BatchHeader(chunk, at: position - chunkStart), position + header.size <= end else {
                return
            }
            guard try body(header, position) else { return }
            position += header.size
        }
    }

    /// The first batch whose last offset is at least `offset`, found through the index, below `limit` bytes.
    func locate(_ offset: Int64, below limit: Int? = nil) throws -> (position: Int, header: BatchHeader)? {
        var found: (Int, BatchHeader)?
        try forEachBatch(from: offsetIndex.lookup(offset), to: limit ?? log.size) { header, position in
            if header.lastOffset >= offset {
                found = (position, header)
                return false
            }
            return true
        }
        return found
    }

    /// The byte range to send for a fetch from `offset`: the batches from the one holding `offset` that fit in
    /// `maxBytes` (with `partialLastBatch`, the first part of the next one too, up to `maxBytes`, as Kafka sends
    /// it), never past `maxOffset`; with `minOneBatch` the first batch is returned whole even when larger than
    /// `maxBytes`. Nil: nothing at `offset` in this segment. Length 0: the first batch does not fit in `maxBytes`
    /// and `minOneBatch` is off; Kafka answers that partition with no records rather than a piece of a batch
    /// (fetch v3+, KIP-74), so that the consumer gets it whole when the partition comes first in a later fetch.
    func slice(from offset: Int64, maxBytes: Int, maxOffset: Int64, minOneBatch: Bool,
               partialLastBatch: Bool = false) throws -> (position: Int, length: Int)? {
        var maxPosition = log.size
        if maxOffset < nextOffset {
            guard let end = try locate(maxOffset) else { return nil }
            maxPosition = end.position
        }
        guard let start = try locate(offset, below: maxPosition) else { return nil }
        if !minOneBatch && start.header.size > maxBytes { return (start.position, 0) }
        let wanted = minOneBatch ? max(maxBytes, start.header.size) : maxBytes
        let cut = start.position + min(wanted, maxPosition - start.position)
        guard !partialLastBatch, cut < maxPosition, cut > start.position + start.header.size else {
            return (start.position, cut - start.position)
        }
        // Up to the last whole batch before the cut: an index entry is where a batch starts (so where the one before
        // it ends); the walk from the last entry before the cut reads the few headers after it.
        var end = max(start.position + start.header.size, offsetIndex.lookup(position: cut))
        try forEachBatch(from: end, to: cut) { header, position in
            end = position + header.size
            return true
        }
        return (start.position, end - start.position)
    }

    /// Reads whole batches' bytes (for timestamp searches that must look inside a batch).
    func readBatch(at position: Int, size: Int) throws -> RecordBatch {
        try RecordBatch(log.read(at: position, length: size))
    }

    /// The first record at or after `startOffset` with a timestamp of at least `timestamp`: (offset, timestamp).
    func findRecord(atOrAfter timestamp: Int64, startOffset: Int64) throws -> (offset: Int64, timestamp: Int64)? {
        let scanFrom = max(timeIndex.lookup(timestamp), startOffset)
        var candidate: (Int, BatchHeader)?
        try forEachBatch(from: offsetIndex.lookup(scanFrom), to: log.size) { header, position in
            if header.lastOffset >= startOffset && header.maxTimestamp >= timestamp {
                candidate = (position, header)
                return false
            }
            return true
        }
        guard let (position, header) = candidate else { return nil }
        var records = try readBatch(at: position, size: header.size).records()
        while let record = try records.next() {
            if record.offset >= startOffset && record.timestamp >= timestamp { return (record.offset, record.timestamp) }
        }
        return nil
    }

    /// The record with the largest timestamp in the segment (the first such record): (offset, timestamp).
    func maxTimestampRecord() throws -> (offset: Int64, timestamp: Int64)? {
        guard maxTimestampPosition >= 0 else { return nil }
        var header: BatchHeader?
        try forEachBatch(from: maxTimestampPosition, to: log.size) { found, _ in
            header = found
            return false
        }
        guard let header else { return nil }
        var records = try readBatch(at: maxTimestampPosition, size: header.size).records()
        var best: (offset: Int64, timestamp: Int64)?
        while let record = try records.next() {
            if best == nil || record.timestamp > best!.timestamp { best = (record.offset, record.timestamp) }
        }
        return best
    }

    // MARK: - Recovery

    /// The first batch of a segment that is not whole and valid: where it starts, the bytes from there to the end
    /// of the file, and what is wrong with it.
    struct Damage: Equatable {
        var position: Int
        var bytesToEnd: Int
        var problem: LogRecovery.Problem
    }

    /// Rebuilds the in-memory state and both indexes by reading every batch and checking its CRC; cuts the file
    /// at the first batch that is not whole and valid (a torn or corrupt tail), and returns what it cut.
    @discardableResult
    func recover(maxBatchBytes: Int) throws -> Damage? {
        offsetIndex.truncate(toEntries: 0)
        timeIndex.file.truncate(toEntries: 0)
        nextOffset = baseOffset
        maxTimestamp = -1
        maxTimestampPosition = -1
        bytesSinceLastIndexEntry = 0
        let damage = try firstDamage(maxBatchBytes: maxBatchBytes) { header, position in account(header, at: position) }
        if let damage { try log.truncate(to: damage.position) }
        return damage
    }

    /// Reads every batch and checks its framing, magic, offsets and CRC, calling `valid` for each good batch up to
    /// the first bad one; returns that one (nil when all are good).
    func firstDamage(maxBatchBytes: Int, valid: (BatchHeader, Int) -> Void = { _, _ in }) throws -> Damage? {
        let fileSize = log.size
        var position = 0
        var chunk = ByteBuffer()
        var chunkStart = 0
        var expectedOffset = baseOffset
        func damage(_ problem: LogRecovery.Problem) -> Damage {
            Damage(position: position, bytesToEnd: fileSize - position, problem: problem)
        }
        while position < fileSize {
            guard fileSize - position >= RecordBatchLayout.headerSize else {
                return damage(.tornTail(batchBytes: RecordBatchLayout.headerSize, bytesPresent: fileSize - position))
            }
            if position + RecordBatchLayout.headerSize > chunkStart + chunk.readableBytes {
                chunkStart = position
                chunk = try log.read(at: position, length: min(1 << 20, fileSize - position))
            }
            guard let header = BatchHeader(chunk, at: position - chunkStart) else {
                return damage(.corruptBatch("its length field is impossible"))
            }
            guard header.magic == RecordBatchLayout.currentMagic else {
                return damage(.corruptBatch("magic \(header.magic) where 2 belongs"))
            }
            guard header.size <= max(maxBatchBytes, RecordBatchLayout.headerSize) * 2 else {
                return damage(.corruptBatch("a length of \(header.size) bytes, over twice max.message.bytes"))
            }
            guard header.baseOffset >= expectedOffset else {
                return damage(.corruptBatch("base offset \(header.baseOffset) where at least \(expectedOffset) belongs"))
            }
            guard position + header.size <= fileSize else {
                return damage(.tornTail(batchBytes: header.size, bytesPresent: fileSize - position))
            }
            let bytes: ByteBuffer
            if position + header.size <= chunkStart + chunk.readableBytes {
                bytes = chunk.getSlice(at: position - chunkStart, length: header.size)!
            } else {
                bytes = try log.read(at: position, length: header.size)
            }
            guard let batch = try? RecordBatch(bytes) else { return damage(.corruptBatch("its header does not parse")) }
            guard (try? batch.verifyChecksum()) != nil else { return damage(.corruptBatch("its CRC does not match its bytes")) }
            valid(header, position)
            expectedOffset = header.nextOffset
            position += header.size
        }
        return nil
    }

    /// Establishes the in-memory state of a segment that was written completely before (not the last one):
    /// trusts a sane index and scans only the batches after its last entry; rebuilds when the index is not sane.
    /// Returns true when it had to rebuild.
    @discardableResult
    func load(maxBatchBytes: Int) throws -> Bool {
        let logSize = log.size
        // A deleted index comes back empty: a segment this large must have entries, in both indexes.
        guard offsetIndex.isSane(logSize: logSize), timeIndex.isSane(nextOffset: Int64.max),
              (offsetIndex.entryCount == 0) == (timeIndex.entryCount == 0),
              offsetIndex.entryCount > 0 || logSize <= indexIntervalBytes * 2
        else {
            try recover(maxBatchBytes: maxBatchBytes)
            return true
        }
        // The tail after the last index entry, and the timestamps, come from the batch headers.
        var last: BatchHeader?
        let start = offsetIndex.entryCount > 0 ? offsetIndex.entry(offsetIndex.entryCount - 1).position : 0
        var scannedTo = start
        try forEachBatch(from: start, to: logSize) { header, position in
            last = header
            scannedTo = position + header.size
            return true
        }
        guard scannedTo == logSize else {
            try recover(maxBatchBytes: maxBatchBytes)
            return true
        }
        if let last { nextOffset = last.nextOffset }
        // The largest timestamp needs every header; they are small and this runs once at startup.
        try forEachBatch(from: 0, to: logSize) { header, position in
            if header.maxTimestamp > maxTimestamp {
                maxTimestamp = header.maxTimestamp
                maxTimestampPosition = position
            }
            return true
        }
        bytesSinceLastIndexEntry = logSize - start
        return false
    }

    // MARK: - Lifecycle

    func flush() throws(StorageError) {
        try log.sync()
        offsetIndex.file.sync()
        timeIndex.file.sync()
    }

    func close() {
        offsetIndex.file.close()
        timeIndex.file.close()
        log.closeFile()
    }

    /// Closes and removes the segment's files.
    func delete() {
        let paths = [log.path, offsetIndex.file.path, timeIndex.file.path]
        close()
        for path in paths { unlink(path) }
    }
}

#if canImport(Glibc)
import Glibc
#endif
