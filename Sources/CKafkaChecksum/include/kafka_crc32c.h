#ifndef KAFKA_CRC32C_H
#define KAFKA_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/// Whether this CPU has a CRC-32C instruction that kafka_crc32c_hardware can use.
int kafka_crc32c_hardware_available(void);

/// Continues the raw (not inverted) CRC-32C state `state` over `length` bytes. Call only when
/// kafka_crc32c_hardware_available() returned non-zero.
uint32_t kafka_crc32c_hardware(uint32_t state, const void *bytes, size_t length);

#endif
