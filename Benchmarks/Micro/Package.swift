// swift-tools-version:6.1
import PackageDescription

/// Micro-benchmarks of the record path (ordo-one/benchmark), kept in their own package so that users of
/// swift-kafka never resolve the benchmark package or its malloc interposer. Only the root package's public
/// libraries are used. Run them with `Benchmarks/micro-benchmarks.sh` (see README.md here).
let package = Package(
    name: "swift-kafka-micro-benchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "swift-kafka", path: "../.."),
        // MallocInterposer alone: the default traits would add a runtime interposer that is not mirrored here,
        // and mallocCountTotal only needs the malloc interposer (no jemalloc on Swift 6.3).
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // What the benchmark targets share: payloads, metrics and thresholds.
        .target(
            name: "MicroSupport",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // Batch encode and decode per codec, record iteration: no I/O.
        .executableTarget(
            name: "RecordBatches",
            dependencies: [
                "MicroSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "KafkaProtocol", package: "swift-kafka"),
                .product(name: "KafkaCompression", package: "swift-kafka"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/RecordBatches",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // The producer's append and the consumer's iteration, against an in-process MockBroker on loopback.
        .executableTarget(
            name: "ClientPaths",
            dependencies: [
                "MicroSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "KafkaClient", package: "swift-kafka"),
                .product(name: "KafkaProtocol", package: "swift-kafka"),
                .product(name: "MockBroker", package: "swift-kafka"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/ClientPaths",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
