// swift-tools-version:5.4
import PackageDescription

/// libFuzzer targets for swift-kafka, in a package of their own: they are built with `-sanitize=fuzzer`, which links
/// libFuzzer's `main`, so they must not have one (`-parse-as-library`) and cannot live beside the root package's
/// executables. Build and run them with `scripts/fuzz.sh` (see the README's "Fuzzing").
///
/// - `fuzz-protocol-messages`: every request, response, header and consumer-protocol type at every version.
/// - `fuzz-record-batches`: record batch parsing, CRC, decompression with each codec, record iteration.
/// - `fuzz-broker-requests`: one request frame at a time into a running MockBroker.
let harnessSettings: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

/// SwiftPM names a path dependency by its folder (lowercased), not by the name its manifest declares: the root
/// package is "swift-kafka" in a plain clone but, say, "wt-fuzz" in a git worktree.
let root = String("\(#filePath)".split(separator: "/").dropLast(2).last ?? "swift-kafka").lowercased()

let package = Package(
    name: "swift-kafka-fuzz",
    platforms: [.macOS("14.0")],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "fuzz-protocol-messages",
            dependencies: [
                .product(name: "KafkaProtocol", package: root),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: harnessSettings
        ),
        .executableTarget(
            name: "fuzz-record-batches",
            dependencies: [
                .product(name: "KafkaProtocol", package: root),
                .product(name: "KafkaCompression", package: root),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: harnessSettings
        ),
        .executableTarget(
            name: "fuzz-broker-requests",
            dependencies: [
                .product(name: "MockBroker", package: root),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: harnessSettings
        ),
    ],
    swiftLanguageVersions: [.version("6")]
)
