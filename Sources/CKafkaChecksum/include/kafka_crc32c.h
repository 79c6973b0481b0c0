#ifndef KAFKA_CRC32C_H
#define KAFKA_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/// Whether this CPU has a CRC-32C instruction that kafka_crc32c_hardware can use.
int kafka_crc32c_hardware_available(void);

/// Continues the raw (not inverted) CRC-32C state `state` over `length` bytes. Call only when
/// kafka_crc32c_hardware_available() returned non-zero.
/// Uses whichever of the two below the library found faster on this CPU as it loaded (inputs under 128 bytes always
/// take the three streams).
uint32_t kafka_crc32c_hardware(uint32_t state, const void *bytes, size_t length);

/// Three interleaved streams of the CRC-32C instruction. Same contract as kafka_crc32c_hardware.
uint32_t kafka_crc32c_three_streams(uint32_t state, const void *bytes, size_t length);

/// Folding with carry-less multiplication (x86-64 PCLMULQDQ), the three streams elsewhere. Same contract as
/// kafka_crc32c_hardware; call only when kafka_crc32c_folding_available() returned non-zero.
uint32_t kafka_crc32c_folded(uint32_t state, const void *bytes, size_t length);

/// Whether this CPU can fold (x86-64 with SSE4.2 and PCLMULQDQ).
int kafka_crc32c_folding_available(void);

/// Folding 64 bytes to an instruction (x86-64 AVX-512 with VPCLMULQDQ). Same contract as kafka_crc32c_hardware;
/// call only when kafka_crc32c_wide_folding_available() returned non-zero.
uint32_t kafka_crc32c_folded_wide(uint32_t state, const void *bytes, size_t length);

/// Whether this CPU and its operating system can fold 64 bytes to an instruction (AVX-512, VPCLMULQDQ).
int kafka_crc32c_wide_folding_available(void);

/// Whether kafka_crc32c_hardware uses the wide folding: it timed it as the fastest.
int kafka_crc32c_uses_wide_folding(void);

/// Whether kafka_crc32c_hardware folds its longer inputs (either folding): it timed folding as the faster.
int kafka_crc32c_uses_folding(void);

#endif
