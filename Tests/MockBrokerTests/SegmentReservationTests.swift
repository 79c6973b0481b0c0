import CMockBrokerStorage
import Foundation
import KafkaTestSupport
import NIOCore
import Testing

@testable import MockBroker

/// The active segment reserves disk ahead of its end so that appends do not allocate page by page; the reservation
/// never shows in the file's size and is given back when the segment rolls or closes.
@Suite("Segment disk reservation")
struct SegmentReservationTests {
    /// Bytes the filesystem has allocated to the file.
    static func allocated(_ path: String) throws -> Int {
        var status = stat()
        guard stat(path, &status) == 0 else { throw StorageError("stat", path: path) }
        return Int(status.st_blocks) * 512
    }

    static func fileSize(_ path: String) throws -> Int {
        try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
    }

    /// What a file of `size` bytes takes with nothing reserved: whole 4 KiB blocks, plus one for slack.
    static func unreserved(_ size: Int) -> Int { (size + 4095) / 4096 * 4096 + 4096 }

    static func inMemory(_ directory: String) -> Bool {
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY)
        defer { close(descriptor) }
        return mock_broker_file_is_in_memory(descriptor) != 0
    }

    static func logFiles(_ directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".log") }.sorted()
            .map { "\(directory)/\($0)" }
    }

    @Test("the active segment holds a reservation beyond its size; rolled and closed segments hold none")
    func reservationFollowsTheActiveSegment() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = try PartitionLogTests.open(directory, PartitionLogTests.config { $0.segmentBytes = 16 * 1024 })
        try PartitionLogTests.fill(log, batches: 400)
        let files = try Self.logFiles(directory)
        #expect(files.count > 3)

        // Sizes are exactly what was appended: the reservation is invisible to readers.
        let sizes = try files.map(Self.fileSize)
        #expect(sizes.reduce(0, +) == log.sizeInBytes)
        for (file, size) in zip(files.dropLast(), sizes.dropLast()) {
            #expect(try Self.allocated(file) <= Self.unreserved(size), "rolled segment \(file) still holds disk")
        }
        let active = files.last!, activeSize = sizes.last!
        if Self.inMemory(directory) {
            // tmpfs: reserving would zero-fill memory the write then overwrites, so nothing is reserved.
            #expect(try Self.allocated(active) <= Self.unreserved(activeSize))
        } else {
            // A small segment reserves 64 KiB, not megabytes: many small partitions reserve little.
            let allocated = try Self.allocated(active)
            #expect(allocated >= Self.unreserved(activeSize) + 32 * 1024)
            #expect(allocated <= Self.unreserved(activeSize) + 64 * 1024)
        }
        // Every record reads back.
        #expect(log.offsets.logEndOffset == 1_200)
        #expect(try PartitionLogTests.batches(at: 1_197, in: log).first?.baseOffset == 1_197)

        log.close()
        #expect(try Self.allocated(active) <= Self.unreserved(activeSize), "a closed segment still holds disk")
        #expect(try Self.fileSize(active) == activeSize)

        // Opening and closing the log again leaves the segments alone: a block the filesystem rounds up to is not
        // mistaken for a reservation to give back (truncating would touch every file).
        let touched = try files.map(Self.modified)
        let reopened = try PartitionLogTests.open(directory, PartitionLogTests.config { $0.segmentBytes = 16 * 1024 })
        #expect(reopened.offsets.logEndOffset == 1_200)
        reopened.close()
        #expect(try files.map(Self.modified) == touched)
    }

    /// The file's modification time, in nanoseconds.
    static func modified(_ path: String) throws -> Int {
        var status = stat()
        guard stat(path, &status) == 0 else { throw StorageError("stat", path: path) }
        return status.st_mtim.tv_sec * 1_000_000_000 + status.st_mtim.tv_nsec
    }

    @Test("a reservation an unclean stop left behind is used by the next appends and given back at close")
    func leftoverReservation() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = PartitionLogTests.config { $0.segmentBytes = 1 << 20 }
        let log = try PartitionLogTests.open(directory, config)
        try PartitionLogTests.fill(log, batches: 10)
        log.close()
        let file = try #require(try Self.logFiles(directory).first)
        let size = try Self.fileSize(file)

        // What a crash leaves: blocks reserved past the end of the file.
        let descriptor = open(file, O_RDWR)
        let reserved = mock_broker_reserve_beyond_end(descriptor, Int64(size), 2 << 20)
        close(descriptor)
        #expect(reserved == 0 || reserved == EOPNOTSUPP)

        let reopened = try PartitionLogTests.open(directory, config)
        #expect(reopened.offsets.logEndOffset == 30)
        #expect(try reopened.append(try PartitionLogTests.batch(3, first: 30), now: 0).baseOffset == 30)
        #expect(try PartitionLogTests.batches(at: 0, in: reopened).count == 11)
        reopened.close()
        let grown = try Self.fileSize(file)
        #expect(grown > size)
        #expect(try Self.allocated(file) <= Self.unreserved(grown))
    }

    @Test("cutting a segment back gives its reservation back with the bytes")
    func truncationReleases() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/segment.log"
        let file = try SegmentFile(path: path, create: true)
        defer { file.closeFile() }
        var bytes = ByteBufferAllocator().buffer(capacity: 100_000)
        bytes.writeRepeatingByte(7, count: 100_000)
        try file.append([bytes])
        try file.truncate(to: 10_000)
        #expect(try Self.fileSize(path) == 10_000)
        #expect(try Self.allocated(path) <= Self.unreserved(10_000))
        try file.append([bytes])
        #expect(file.size == 110_000)
        #expect(try Self.fileSize(path) == 110_000)
    }
}
