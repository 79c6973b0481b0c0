// CRC-32C with the CPU's own instruction. Three independent streams hide the instruction's latency: each
// stream is checksummed separately and the partial results are combined with a precomputed shift.

#include "kafka_crc32c.h"

#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <nmmintrin.h>
#define KAFKA_CRC_TARGET __attribute__((target("sse4.2")))
#define CRC_U8(crc, v) _mm_crc32_u8((crc), (v))
#define CRC_U64(crc, v) ((uint32_t)_mm_crc32_u64((crc), (v)))
#elif defined(__aarch64__) && defined(__linux__)
#include <arm_acle.h>
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif
#define KAFKA_CRC_TARGET __attribute__((target("crc")))
#define CRC_U8(crc, v) __crc32cb((crc), (v))
#define CRC_U64(crc, v) __crc32cd((crc), (v))
#endif

#if defined(KAFKA_CRC_TARGET)

int kafka_crc32c_hardware_available(void) {
#if defined(__x86_64__)
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    return (ecx & bit_SSE4_2) != 0;
#else
    return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0;
#endif
}

// a * b modulo the CRC-32C polynomial, in the reflected bit order CRCs use (bit 31 is x^0, bit 0 is x^31).
static uint32_t gf2_multiply(uint32_t a, uint32_t b) {
    uint32_t product = 0;
    for (uint32_t bit = 0x80000000u; bit != 0; bit >>= 1) {
        if (a & bit) product ^= b;
        b = (b & 1) ? (b >> 1) ^ 0x82F63B78u : b >> 1; // b *= x
    }
    return product;
}

#define STREAM_BLOCK 4096
// x^(8 * STREAM_BLOCK) modulo the polynomial: multiplying a CRC state by it skips the state past a block of
// zero bytes. (Computed by square-and-multiply of x; the test suite checks the combined result against
// slice-by-8 on large buffers.)
#define STREAM_BLOCK_SHIFT 0x35D73A62u
// The same for blocks of 512 bytes, for what is left after the 4 KiB blocks, and for inputs of 1.5-12 KiB (a
// value a producer writes from its caller's buffer, a 16 KiB batch): one stream would run at a third of the speed.
#define SMALL_STREAM_BLOCK 512
#define SMALL_STREAM_BLOCK_SHIFT 0x74C360A4u

KAFKA_CRC_TARGET
static uint32_t crc_words(uint32_t crc, const unsigned char *p, size_t length) {
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        crc = CRC_U64(crc, word);
        p += 8;
        length -= 8;
    }
    while (length--) crc = CRC_U8(crc, *p++);
    return crc;
}

// Three blocks of `block` bytes checksummed as three independent streams, combined with `shift`
// (x^(8 * block) modulo the polynomial).
KAFKA_CRC_TARGET
static inline uint32_t crc_three_blocks(uint32_t crc, const unsigned char *p, size_t block, uint32_t shift) {
    uint32_t a = crc, b = 0, c = 0;
    for (size_t i = 0; i < block; i += 8) {
        uint64_t wa, wb, wc;
        memcpy(&wa, p + i, 8);
        memcpy(&wb, p + block + i, 8);
        memcpy(&wc, p + 2 * block + i, 8);
        a = CRC_U64(a, wa);
        b = CRC_U64(b, wb);
        c = CRC_U64(c, wc);
    }
    return gf2_multiply(gf2_multiply(a, shift) ^ b, shift) ^ c;
}

KAFKA_CRC_TARGET
uint32_t kafka_crc32c_hardware(uint32_t state, const void *bytes, size_t length) {
    const unsigned char *p = bytes;
    uint32_t crc = state;
    while (length >= 3 * STREAM_BLOCK) {
        crc = crc_three_blocks(crc, p, STREAM_BLOCK, STREAM_BLOCK_SHIFT);
        p += 3 * STREAM_BLOCK;
        length -= 3 * STREAM_BLOCK;
    }
    while (length >= 3 * SMALL_STREAM_BLOCK) {
        crc = crc_three_blocks(crc, p, SMALL_STREAM_BLOCK, SMALL_STREAM_BLOCK_SHIFT);
        p += 3 * SMALL_STREAM_BLOCK;
        length -= 3 * SMALL_STREAM_BLOCK;
    }
    return crc_words(crc, p, length);
}

#else

int kafka_crc32c_hardware_available(void) { return 0; }
uint32_t kafka_crc32c_hardware(uint32_t state, const void *bytes, size_t length) {
    (void)bytes;
    (void)length;
    return state;
}

#endif
