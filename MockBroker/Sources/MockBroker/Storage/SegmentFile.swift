#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CMockBrokerStorage
import NIOCore

/// The `.log` file of a segment: appended at the end, read at positions, synced on demand.
///
/// Appends reserve disk ahead of the end (`fallocate` keeping the file's size), so the filesystem finds blocks
/// already allocated instead of doing its delayed-allocation bookkeeping page by page: on ext4 that cut writing
/// 500 MB in 1 MiB `pwritev`s from 0.12 to 0.085 s of system time. The reservation grows with the file (as much as
/// the file holds, at least 64 KiB, at most 4 MiB), so a broker with many small partitions reserves little. It never
/// shows in the file's size (readers, `sendfile` and recovery go by the size) and is given back when the segment
/// stops being the active one or is closed. Not on tmpfs, where reserving means zero-filling memory that the write
/// then overwrites.
///
/// Not thread-safe on its own: the owning partition log serialises appends; positioned reads (`pread`) are safe
/// alongside them because readers only look below the size they were told about.
final class SegmentFile {
    let path: String
    private var descriptor: CInt
    /// Bytes in the file.
    private(set) var size: Int
    /// Where the disk reserved beyond `size` ends (`size` when nothing is reserved).
    private var reservedEnd: Int
    /// Whether appends reserve ahead: off on tmpfs, off for good once the filesystem refuses.
    private var reservesAhead: Bool

    /// How far ahead of `end` an append reserves: as much as the file holds, within 64 KiB...4 MiB.
    static func reservation(aheadOf end: Int) -> Int {
        min(max(end, 64 * 1024), 4 * 1024 * 1024)
    }

    init(path: String, create: Bool) throws(StorageError) {
        self.path = path
        let flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0)
        descriptor = open(path, flags, 0o644)
        guard descriptor >= 0 else { throw StorageError("open", path: path) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let error = StorageError("stat", path: path)
            close(descriptor)
            throw error
        }
        size = Int(status.st_size)
        // A reservation an unclean stop left (at least the smallest one we make, past the last block the bytes
        // use) counts as reserved: used by the next appends, given back at roll or close. Anything less is the
        // filesystem's own (an extent block) and is left alone, so that reopening old segments frees nothing.
        let allocated = Int(status.st_blocks) * 512
        let block = max(Int(status.st_blksize), 512)
        let used = (size + block - 1) / block * block
        reservedEnd = allocated - used >= Self.reservation(aheadOf: 0) ? allocated : size
        reservesAhead = mock_broker_file_is_in_memory(descriptor) == 0 // on tmpfs reserving only zero-fills
    }

    deinit {
        if descriptor >= 0 {
            releaseReservation()
            close(descriptor)
        }
    }

    /// Reserves disk so that `end` bytes fit without the filesystem allocating during the write. Failure only
    /// means the write allocates as it goes (a full disk is reported by the write itself).
    private func reserve(through end: Int) {
        guard reservesAhead, end > reservedEnd else { return }
        let newEnd = end + Self.reservation(aheadOf: end)
        switch mock_broker_reserve_beyond_end(descriptor, Int64(reservedEnd), Int64(newEnd - reservedEnd)) {
        case 0: reservedEnd = newEnd
        case EOPNOTSUPP: reservesAhead = false
        default: break
        }
    }

    /// Gives back the disk reserved beyond the end: truncating to the same size frees blocks past it.
    func releaseReservation() {
        guard reservedEnd > size, descriptor >= 0 else { return }
        if ftruncate(descriptor, off_t(size)) == 0 { reservedEnd = size }
    }

    /// Appends the buffers' readable bytes as one contiguous run: in one `pwritev`, unless there are more than
    /// ``maxBuffersPerWrite`` of them or the kernel writes less than asked.
    func append(_ parts: [ByteBuffer]) throws(StorageError) {
        var pending = parts.filter { $0.readableBytes > 0 }
        var first = 0 // the first buffer not wholly written
        var position = size
        reserve(through: position + pending.reduce(0) { $0 + $1.readableBytes })
        while first < pending.count {
            let written = writeVectored(pending[first...], at: position)
            guard written >= 0 else {
                if currentErrno() == EINTR { continue }
                throw StorageError("write", path: path)
            }
            position += written
            // Step past what was written; the rest goes in the next round.
            var remaining = written
            while remaining > 0, first < pending.count {
                let take = min(remaining, pending[first].readableBytes)
                pending[first].moveReaderIndex(forwardBy: take)
                remaining -= take
                if pending[first].readableBytes == 0 { first += 1 }
            }
        }
        size = position
    }

    /// The most buffers one `pwritev` takes (Linux's `IOV_MAX`; more is `EINVAL`). Appends of many small batches
    /// written together have two buffers a batch: the rest goes in the next call.
    static let maxBuffersPerWrite = 1024

    /// Writes the first ``maxBuffersPerWrite`` of `parts` in one `pwritev`; returns the bytes written, or -1.
    private func writeVectored(_ parts: ArraySlice<ByteBuffer>, at position: Int) -> Int {
        let parts = parts.prefix(Self.maxBuffersPerWrite)
        var vectors: [iovec] = []
        vectors.reserveCapacity(parts.count)
        // Each buffer's bytes are valid only inside its closure, hence the nesting.
        func collect(_ index: Int) -> Int {
            guard index < parts.endIndex else {
                return pwritev(descriptor, vectors, CInt(vectors.count), off_t(position))
            }
            return parts[index].withUnsafeReadableBytes { bytes in
                vectors.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count))
                return collect(index + 1)
            }
        }
        return collect(parts.startIndex)
    }

    /// Reads `length` bytes at `position` (fewer at the end of the file).
    func read(at position: Int, length: Int, allocator: ByteBufferAllocator = ByteBufferAllocator()) throws(StorageError) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: max(length, 0))
        var done = 0
        while done < length {
            let count = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 0) { destination in
                let wanted = min(length - done, destination.count)
                return max(0, pread(descriptor, destination.baseAddress, wanted, off_t(position + done)))
            }
            if count == 0 {
                if currentErrno() == EINTR { continue }
                break // end of file
            }
            done += count
        }
        return buffer
    }

    /// `fdatasync`: the bytes written so far survive a crash.
    func sync() throws(StorageError) {
        guard fdatasync(descriptor) == 0 else { throw StorageError("fdatasync", path: path) }
    }

    /// Cuts the file at `newSize` (recovery of a torn tail).
    func truncate(to newSize: Int) throws(StorageError) {
        guard ftruncate(descriptor, off_t(newSize)) == 0 else { throw StorageError("truncate", path: path) }
        size = newSize
        reservedEnd = newSize // truncating frees whatever lay beyond
    }

    /// A new descriptor for the same file, owned by a `FileRegion` until the bytes are on the socket: one
    /// `NIOFileHandle` may only be used by one write at a time, so each response region gets its own.
    func regionHandle() throws(StorageError) -> NIOFileHandle {
        let duplicate = dup(descriptor)
        guard duplicate >= 0 else { throw StorageError("dup", path: path) }
        return NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: duplicate)
    }

    func closeFile() {
        if descriptor >= 0 {
            releaseReservation()
            close(descriptor)
            descriptor = -1
        }
    }
}
