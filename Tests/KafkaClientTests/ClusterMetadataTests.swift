import KafkaProtocol
import Testing

@testable import KafkaClient

/// A Metadata answer for one topic whose partitions have these (leader, epoch) pairs, from brokers 1-3.
private func metadataResponse(topic: String = "orders", leaders: [(leader: Int32, epoch: Int32)]) -> MetadataResponse {
    var response = MetadataResponse()
    response.brokers = (Int32(1)...3).map { node in
        var broker = MetadataResponse.MetadataResponseBroker()
        broker.nodeId = node
        broker.host = "127.0.0.1"
        broker.port = 9090 + node
        return broker
    }
    var answer = MetadataResponse.MetadataResponseTopic()
    answer.name = topic
    answer.partitions = leaders.enumerated().map { index, entry in
        var partition = MetadataResponse.MetadataResponsePartition()
        partition.partitionIndex = Int32(index)
        partition.leaderId = entry.leader
        partition.leaderEpoch = entry.epoch
        return partition
    }
    response.topics = [answer]
    return response
}

@Suite("Cluster metadata: leaders and leader epochs")
struct ClusterMetadataTests {
    @Test("a leader hint (KIP-951) with a newer epoch moves the partition; an older or equal one does not")
    func leaderHints() {
        var metadata = ClusterMetadata()
        metadata.merge(metadataResponse(leaders: [(1, 5), (2, 5)]), requestedAll: false)

        let newer = metadata.updateLeader(topic: "orders", partition: 0, leader: 2, epoch: 6, address: nil)
        #expect(newer && metadata.leader(of: "orders", partition: 0) == 2)
        let sameEpoch = metadata.updateLeader(topic: "orders", partition: 0, leader: 3, epoch: 6, address: nil)
        let olderEpoch = metadata.updateLeader(topic: "orders", partition: 0, leader: 3, epoch: 4, address: nil)
        #expect(!sameEpoch && !olderEpoch)
        #expect(metadata.leader(of: "orders", partition: 0) == 2)
        let unknownPartition = metadata.updateLeader(topic: "orders", partition: 7, leader: 3, epoch: 9, address: nil)
        let unknownTopic = metadata.updateLeader(topic: "other", partition: 0, leader: 3, epoch: 9, address: nil)
        #expect(!unknownPartition && !unknownTopic)
    }

    @Test("a hint naming a broker the client has not seen needs its address")
    func unknownBroker() {
        var metadata = ClusterMetadata()
        metadata.merge(metadataResponse(leaders: [(1, 5)]), requestedAll: false)
        let withoutAddress = metadata.updateLeader(topic: "orders", partition: 0, leader: 9, epoch: 6, address: nil)
        let withAddress = metadata.updateLeader(topic: "orders", partition: 0, leader: 9, epoch: 6,
                                                address: BrokerAddress(host: "127.0.0.1", port: 9099))
        #expect(!withoutAddress && withAddress)
        #expect(metadata.leader(of: "orders", partition: 0) == 9)
        #expect(metadata.brokers[9] == BrokerAddress(host: "127.0.0.1", port: 9099))
    }

    @Test("metadata from a broker that lags behind never moves a partition back to an older leader epoch")
    func staleMetadata() {
        var metadata = ClusterMetadata()
        metadata.merge(metadataResponse(leaders: [(1, 5), (1, 5)]), requestedAll: false)
        metadata.updateLeader(topic: "orders", partition: 0, leader: 2, epoch: 7, address: nil)
        metadata.merge(metadataResponse(leaders: [(1, 5), (3, 6)]), requestedAll: false)
        #expect(metadata.leader(of: "orders", partition: 0) == 2, "epoch 7 kept over the stale epoch 5")
        #expect(metadata.topics["orders"]?.partitions[0].leaderEpoch == 7)
        #expect(metadata.leader(of: "orders", partition: 1) == 3, "a newer epoch is taken")
    }

    @Test("a partition without a leader, or led by a broker missing from the answer, has no leader")
    func noLeader() {
        var metadata = ClusterMetadata()
        metadata.merge(metadataResponse(leaders: [(-1, 5), (8, 5)]), requestedAll: false)
        #expect(metadata.leader(of: "orders", partition: 0) == nil)
        #expect(metadata.leader(of: "orders", partition: 1) == nil)
    }
}
