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

#define LONG_BLOCK 4096
#define SHORT_BLOCK 256
// x^(8 * block) modulo the polynomial: multiplying a CRC state by it skips the state past a block of zero bytes.
// (Computed by square-and-multiply of x; the test suite checks the combined result against slice-by-8.)
#define LONG_BLOCK_SHIFT 0x35D73A62u
#define SHORT_BLOCK_SHIFT 0x88E56F72u

// Multiplying by a fixed shift is linear in the state, so it is four table lookups, one per byte of the state,
// instead of a 32-step loop: the 32-step loop cost as much as checksumming a 512-byte block.
static uint32_t long_shift_table[4][256];
static uint32_t short_shift_table[4][256];

static void fill_shift_table(uint32_t table[4][256], uint32_t shift) {
    for (int k = 0; k < 4; k++) {
        table[k][0] = 0;
        for (int bit = 1; bit < 256; bit <<= 1) table[k][bit] = gf2_multiply((uint32_t)bit << (8 * k), shift);
        for (int v = 1; v < 256; v++) table[k][v] = table[k][v & (v - 1)] ^ table[k][v & -v];
    }
}

// Filled once as the library loads, before any thread can checksum.
__attribute__((constructor)) static void fill_shift_tables(void) {
    fill_shift_table(long_shift_table, LONG_BLOCK_SHIFT);
    fill_shift_table(short_shift_table, SHORT_BLOCK_SHIFT);
}

static inline uint32_t shifted(const uint32_t table[4][256], uint32_t crc) {
    return table[0][crc & 0xff] ^ table[1][(crc >> 8) & 0xff] ^ table[2][(crc >> 16) & 0xff] ^ table[3][crc >> 24];
}

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

// Three blocks of `block` bytes checksummed as three independent streams, combined with `table` (the shift by
// one block).
KAFKA_CRC_TARGET
static inline uint32_t crc_three_blocks(uint32_t crc, const unsigned char *p, size_t block,
                                        const uint32_t table[4][256]) {
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
    return shifted(table, shifted(table, a) ^ b) ^ c;
}

KAFKA_CRC_TARGET
uint32_t kafka_crc32c_hardware(uint32_t state, const void *bytes, size_t length) {
    const unsigned char *p = bytes;
    uint32_t crc = state;
    while (length >= 3 * LONG_BLOCK) {
        crc = crc_three_blocks(crc, p, LONG_BLOCK, long_shift_table);
        p += 3 * LONG_BLOCK;
        length -= 3 * LONG_BLOCK;
    }
    while (length >= 3 * SHORT_BLOCK) {
        crc = crc_three_blocks(crc, p, SHORT_BLOCK, short_shift_table);
        p += 3 * SHORT_BLOCK;
        length -= 3 * SHORT_BLOCK;
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
