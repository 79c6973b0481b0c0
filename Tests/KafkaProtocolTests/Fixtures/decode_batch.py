#!/usr/bin/env python3
"""Decode Kafka record batches (magic 2) with kafka-python and print them as JSON.

Usage: python3 decode_batch.py FILE

FILE holds raw bytes: one or more record batches back to back, as in the
`records` field of a Fetch response. A trailing incomplete batch is ignored,
as a Kafka consumer does. Output is one JSON object on stdout:

    {"batches": [{<batch header fields>, "crcValid": bool, "records": [...]}],
     "validBytes": N, "trailingBytes": M}

The batch and record keys match those of record_batches.json. Byte strings are
lowercase hex (or null). On any decoding failure the script prints a message on
stderr and exits with status 1.

kafka-python (PyPI `kafka-python`) is the independent decoder here; the
generator (generate_fixtures.py) imports `describe_batch` from this file so both
fixture sets describe batches the same way.
"""

import json
import sys

from kafka.record.default_records import DefaultRecordBatch
from kafka.record.memory_records import MemoryRecords

# Size of BaseOffset + Length: the batch Length field counts the bytes after it.
_LOG_OVERHEAD = 12


def _hex_or_none(value):
    return None if value is None else bytes(value).hex()


def describe_batch(batch):
    """Return (header_dict, records_list) for a kafka-python DefaultRecordBatch.

    The CRC is validated separately (validate_crc must run before iteration);
    call `batch.validate_crc()` first if you need it.
    """
    if not isinstance(batch, DefaultRecordBatch):
        raise ValueError("not a magic-2 record batch: %r" % (batch,))
    header = {
        "baseOffset": batch.base_offset,
        "length": batch.size_in_bytes - _LOG_OVERHEAD,
        "partitionLeaderEpoch": batch.leader_epoch,
        "magic": batch.magic,
        "crc": batch.crc,
        "attributes": batch.attributes,
        "lastOffsetDelta": batch.last_offset_delta,
        "baseTimestamp": batch.first_timestamp,
        "maxTimestamp": batch.max_timestamp,
        "producerId": batch.producer_id,
        "producerEpoch": batch.producer_epoch,
        "baseSequence": batch.base_sequence,
        "isTransactional": bool(batch.is_transactional),
        "isControl": bool(batch.is_control_batch),
        "timestampType": int(batch.timestamp_type),
        "recordCount": batch.records_count,
    }
    records = []
    for record in batch:
        records.append({
            "offset": record.offset,
            "timestamp": record.timestamp,
            "key": _hex_or_none(record.key),
            "value": _hex_or_none(record.value),
            "headers": [[k, _hex_or_none(v)] for k, v in record.headers],
        })
    if len(records) != header["recordCount"]:
        raise ValueError("batch declares %d records, decoded %d"
                         % (header["recordCount"], len(records)))
    return header, records


def decode_all(data):
    """Decode every complete batch in `data`; return the JSON-ready result."""
    data = bytes(data)
    memory = MemoryRecords(data)
    batches = []
    while memory.has_next():
        batch = memory.next_batch()
        if not isinstance(batch, DefaultRecordBatch):
            raise ValueError("batch %d has magic %d; only magic 2 is supported"
                             % (len(batches), batch.magic))
        crc_valid = bool(batch.validate_crc())
        header, records = describe_batch(batch)
        entry = dict(header)
        entry["crcValid"] = crc_valid
        entry["records"] = records
        batches.append(entry)
    valid = memory.valid_bytes()
    return {"batches": batches, "validBytes": valid, "trailingBytes": len(data) - valid}


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: decode_batch.py FILE\n")
        return 2
    try:
        with open(argv[1], "rb") as handle:
            data = handle.read()
        result = decode_all(data)
    except Exception as error:  # any failure is reported the same way
        sys.stderr.write("decode_batch: %s: %s\n" % (type(error).__name__, error))
        return 1
    sys.stdout.write(json.dumps(result, separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
