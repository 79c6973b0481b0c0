#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A mutex that spins briefly before it sleeps (glibc's adaptive mutex; a plain mutex elsewhere).
///
/// For the producer's record accumulator, whose critical sections last well under a microsecond but are taken
/// by the appending thread and the sender's event loop at once: with a plain mutex every collision puts a thread
/// to sleep in the kernel and wakes it again, two context switches for a wait a few hundred spins would cover.
final class AdaptiveLock: @unchecked Sendable {
    // @unchecked: the mutex is only touched through pthread calls, which synchronise it.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        mutex = .allocate(capacity: 1)
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        #if canImport(Glibc)
        pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_ADAPTIVE_NP))
        #endif
        let status = pthread_mutex_init(mutex, &attributes)
        precondition(status == 0, "pthread_mutex_init failed: \(status)")
        pthread_mutexattr_destroy(&attributes)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inlinable
    func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}
