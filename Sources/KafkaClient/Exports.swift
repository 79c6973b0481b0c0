// The types everyday code meets, so that `import KafkaClient` is enough: record headers and their values
// (NIO's ByteBuffer), error codes, compression codecs, timestamps.
@_exported import struct NIOCore.ByteBuffer
@_exported import struct KafkaProtocol.RecordHeader
@_exported import struct KafkaProtocol.RecordHeaders
@_exported import struct KafkaProtocol.KafkaErrorCode
@_exported import enum KafkaProtocol.TimestampType
@_exported import enum KafkaCompression.CompressionCodec
