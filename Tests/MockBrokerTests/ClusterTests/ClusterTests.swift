import Testing

/// Every cluster suite, one test at a time: each starts three brokers and real clients, and several at once (beside
/// the rest of the tests) would starve the 2-core machines the suite runs on.
@Suite("Cluster", .serialized)
struct ClusterTests {}
