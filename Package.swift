// swift-tools-version:6.2
import PackageDescription

/// Layers, bottom up:
/// - `KafkaCompression`: the four codecs Kafka uses, over Debian's system libraries.
/// - `KafkaProtocol`: the wire protocol (primitives, every message, record batches). No I/O.
/// - `KafkaClient`: connections to brokers (and, on top, the producer and consumer).
/// - `MockBroker` (top-level folder `MockBroker/`): a Kafka-protocol broker for tests, library and executable.
let package = Package(
    name: "swift-kafka",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "KafkaProtocol", targets: ["KafkaProtocol"]),
        .library(name: "KafkaCompression", targets: ["KafkaCompression"]),
        .library(name: "KafkaClient", targets: ["KafkaClient"]),
        .library(name: "MockBroker", targets: ["MockBroker"]),
        .executable(name: "mock-broker", targets: ["mock-broker"]),
        .executable(name: "kafka-producer", targets: ["kafka-producer"]),
        .executable(name: "kafka-consumer", targets: ["kafka-consumer"]),
        .executable(name: "kafka-admin", targets: ["kafka-admin"]),
        .executable(name: "example-service", targets: ["example-service"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // Documentation only (`scripts/docs.sh`): `swift package generate-documentation`.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // MARK: System libraries (Debian: liblz4-dev libsnappy-dev libzstd-dev zlib1g-dev)
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CSnappy", pkgConfig: "snappy", providers: [.apt(["libsnappy-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // MARK: Compression
        .target(
            name: "KafkaCompression",
            dependencies: [
                "CLZ4", "CSnappy", "CZstd", "CZlib",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),

        // MARK: Wire protocol
        // The CRC-32C instruction (SSE4.2 / ARMv8 CRC), which Swift cannot name directly; slice-by-8 in Swift
        // is the fallback where the CPU lacks it.
        .target(name: "CKafkaChecksum"),
        .target(
            name: "KafkaProtocol",
            dependencies: [
                "CKafkaChecksum",
                "KafkaCompression",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            exclude: ["Schema"]
        ),

        // MARK: Client
        .target(
            name: "KafkaClient",
            dependencies: [
                "KafkaProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // MARK: Mock broker
        .target(name: "CMockBrokerStorage", path: "MockBroker/Sources/CMockBrokerStorage"),
        .target(
            name: "MockBroker",
            dependencies: [
                "KafkaProtocol",
                "CMockBrokerStorage",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                // The cluster's HTTP control endpoint.
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "MockBroker/Sources/MockBroker"
        ),
        .executableTarget(
            name: "mock-broker",
            dependencies: [
                "MockBroker",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "MockBroker/Sources/mock-broker"
        ),

        // MARK: Examples
        .target(name: "CKafkaToolProcess", path: "Examples/CKafkaToolProcess"),
        // What kafka-producer and kafka-consumer would otherwise import Foundation for (number formatting, stderr).
        .target(name: "KafkaToolSupport", path: "Examples/KafkaToolSupport"),
        .executableTarget(
            name: "kafka-producer",
            dependencies: [
                "KafkaClient", "KafkaCompression", "KafkaProtocol", "CKafkaToolProcess", "KafkaToolSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            path: "Examples/kafka-producer"
        ),
        .executableTarget(
            name: "kafka-consumer",
            dependencies: [
                "KafkaClient", "KafkaProtocol", "CKafkaToolProcess", "KafkaToolSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Examples/kafka-consumer"
        ),
        .target(
            name: "ExampleService",
            dependencies: [
                "KafkaClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Examples/example-service/ExampleService"
        ),
        .executableTarget(
            name: "example-service",
            dependencies: [
                "ExampleService", "KafkaClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Examples/example-service/example-service"
        ),
        .executableTarget(
            name: "kafka-admin",
            dependencies: [
                "KafkaClient", "KafkaProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Examples/kafka-admin"
        ),
        .executableTarget(
            name: "demo",
            dependencies: [
                "KafkaClient", "MockBroker", "KafkaProtocol",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Examples/demo"
        ),

        // MARK: Soak (not in CI): producers and a group through broker restarts and member changes, every record
        // accounted for. `swift run -c release kafka-soak --minutes 10`.
        .executableTarget(
            name: "kafka-soak",
            dependencies: [
                "KafkaClient", "MockBroker",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tools/Soak"
        ),

        // MARK: Code generation (schema -> Sources/KafkaProtocol/Messages)
        .target(name: "KafkaCodegen", path: "Tools/KafkaCodegen/Sources/KafkaCodegen"),
        .executableTarget(
            name: "kafka-codegen",
            dependencies: ["KafkaCodegen"],
            path: "Tools/KafkaCodegen/Sources/kafka-codegen"
        ),

        // MARK: Benchmarks (run in release; see README)
        .executableTarget(
            name: "record-batch-benchmark",
            dependencies: ["KafkaProtocol", "KafkaCompression", .product(name: "NIOCore", package: "swift-nio")],
            path: "Benchmarks/RecordBatchBenchmark"
        ),

        .executableTarget(
            name: "fetch-benchmark",
            dependencies: [
                "MockBroker", "KafkaClient", "KafkaProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/FetchBenchmark"
        ),

        .executableTarget(
            name: "producer-benchmark",
            dependencies: [
                "KafkaClient", "KafkaCompression",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/ProducerBenchmark"
        ),

        .executableTarget(
            name: "consumer-benchmark",
            dependencies: [
                "KafkaClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/ConsumerBenchmark"
        ),

        // MARK: Tests
        // Helpers the test targets share: brokers in-process and as child processes, the peers (kcat, kafka-python,
        // Tansu), writing and reading records back. A library for test targets only; no product exposes it.
        .target(
            name: "KafkaTestSupport",
            dependencies: [
                "MockBroker", "KafkaClient", "KafkaProtocol", "KafkaCompression",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/KafkaTestSupport"
        ),
        .testTarget(
            name: "KafkaCompressionTests",
            dependencies: ["KafkaCompression", "KafkaTestSupport", .product(name: "NIOCore", package: "swift-nio")],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "KafkaProtocolTests",
            dependencies: ["KafkaProtocol", "KafkaCodegen", "KafkaTestSupport", .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOEmbedded", package: "swift-nio")],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "KafkaClientTests",
            dependencies: [
                "KafkaTestSupport", "KafkaClient", "MockBroker", "KafkaProtocol", "KafkaCompression", "ExampleService",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["Scripts"]
        ),
        .testTarget(
            name: "MockBrokerInteropTests",
            dependencies: [
                "KafkaTestSupport", "MockBroker", "KafkaClient", "KafkaProtocol", "KafkaCompression",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Scripts"]
        ),
        .testTarget(
            name: "MockBrokerTests",
            dependencies: [
                "KafkaTestSupport", "MockBroker", "KafkaClient", "KafkaProtocol", "KafkaCompression",
                "CMockBrokerStorage",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
)
