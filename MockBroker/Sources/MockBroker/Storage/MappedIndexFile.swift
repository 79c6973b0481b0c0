#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file of fixed-size entries, memory-mapped: the storage of the offset and time indexes.
///
/// The file is extended to its maximum size while it is written (like Kafka's preallocated index) and cut back
/// to the entries it holds when the segment is sealed or closed. Reads and writes go through the mapping.
final class MappedIndexFile {
    let path: String
    let entrySize: Int
    private var descriptor: CInt
    private var mapping: UnsafeMutableRawPointer?
    private var mappedBytes: Int
    private(set) var entryCount: Int

    /// Opens or creates the file with room for `maxBytes` of entries; `entryCount` starts at what a trimmed file
    /// holds (an untrimmed file from a crash is detected by the caller's sanity checks).
    init(path: String, entrySize: Int, maxBytes: Int) throws(StorageError) {
        self.path = path
        self.entrySize = entrySize
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw StorageError("open", path: path) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw StorageError("stat", path: path) }
        let existing = Int(status.st_size)
        entryCount = existing / entrySize
        mappedBytes = max(existing, max(entrySize, maxBytes / entrySize * entrySize))
        mapping = nil
        guard ftruncate(descriptor, off_t(mappedBytes)) == 0 else { throw StorageError("extend", path: path) }
        guard let base = mmap(nil, mappedBytes, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0), base != MAP_FAILED else {
            throw StorageError("mmap", path: path)
        }
        // Entries are written one page at a time and looked up by binary search: read-ahead would only fill (and
        // zero, in the sparse part past the entries) pages around each fault that no entry uses yet. With it, the
        // first entries of a new partition's indexes took 5 % of the broker's time taking 16 KB produce batches.
        _ = madvise(base, mappedBytes, MADV_RANDOM)
        mapping = base
    }

    deinit { close() }

    var isFull: Bool { !hasRoom(forEntries: 1) }

    /// Whether `count` more entries fit.
    func hasRoom(forEntries count: Int) -> Bool { (entryCount + count) * entrySize <= mappedBytes }
    var isOpen: Bool { mapping != nil }

    /// The bytes of entry `index`.
    @inline(__always)
    func entry(_ index: Int) -> UnsafeRawPointer {
        UnsafeRawPointer(mapping!) + index * entrySize
    }

    /// Appends one entry; the caller checks ``isFull`` first.
    func append(_ write: (UnsafeMutableRawPointer) -> Void) {
        precondition(!isFull, "index \(path) is full")
        write(mapping! + entryCount * entrySize)
        entryCount += 1
    }

    /// Forgets every entry from `count` on.
    func truncate(toEntries count: Int) {
        entryCount = min(count, entryCount)
    }

    func sync() {
        if let mapping { msync(mapping, mappedBytes, MS_SYNC) }
    }

    /// Unmaps the file and trims it to the entries it holds.
    func close() {
        guard let mapping else { return }
        munmap(mapping, mappedBytes)
        self.mapping = nil
        _ = ftruncate(descriptor, off_t(entryCount * entrySize))
        Glibc.close(descriptor)
        descriptor = -1
    }
}

/// Reading and writing big-endian integers in mapped memory.
extension UnsafeRawPointer {
    @inline(__always)
    func loadBigEndian<T: FixedWidthInteger>(at offset: Int, as: T.Type) -> T {
        T(bigEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

extension UnsafeMutableRawPointer {
    @inline(__always)
    func storeBigEndian<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: T.self)
    }
}
