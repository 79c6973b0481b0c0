#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// The `.log` file of a segment: appended at the end, read at positions, synced on demand.
///
/// Not thread-safe on its own: the owning partition log serialises appends; positioned reads (`pread`) are safe
/// alongside them because readers only look below the size they were told about.
final class SegmentFile {
    let path: String
    private var descriptor: CInt
    /// Bytes in the file.
    private(set) var size: Int

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
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    /// Appends the buffers' readable bytes in one `pwritev`, as one contiguous run.
    func append(_ parts: [ByteBuffer]) throws(StorageError) {
        var pending = parts.filter { $0.readableBytes > 0 }
        var position = size
        while !pending.isEmpty {
            let written = writeVectored(pending, at: position)
            guard written >= 0 else {
                if currentErrno() == EINTR { continue }
                throw StorageError("write", path: path)
            }
            position += written
            // Drop what was written; a short write leaves the rest for the next round.
            var remaining = written
            while remaining > 0, !pending.isEmpty {
                let take = min(remaining, pending[0].readableBytes)
                pending[0].moveReaderIndex(forwardBy: take)
                remaining -= take
                if pending[0].readableBytes == 0 { pending.removeFirst() }
            }
        }
        size = position
    }

    private func writeVectored(_ parts: [ByteBuffer], at position: Int) -> Int {
        var vectors: [iovec] = []
        vectors.reserveCapacity(parts.count)
        func collect(_ index: Int) -> Int {
            guard index < parts.count else {
                return pwritev(descriptor, vectors, CInt(vectors.count), off_t(position))
            }
            return parts[index].withUnsafeReadableBytes { bytes in
                vectors.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count))
                return collect(index + 1)
            }
        }
        return collect(0)
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
            close(descriptor)
            descriptor = -1
        }
    }
}
