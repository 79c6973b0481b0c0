#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure of the broker's on-disk storage.
public struct StorageError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var path: String
    public var errno: CInt

    init(_ operation: String, path: String, errno: CInt = currentErrno()) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    public var description: String {
        "\(operation) \(path): \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

func currentErrno() -> CInt {
    #if canImport(Glibc) || canImport(Musl)
    Glibc.errno
    #else
    Darwin.errno
    #endif
}
