// CRC-32C with the CPU's own instructions, two ways:
// - three streams of the CRC-32C instruction, which hide its latency: each stream is checksummed separately and the
//   partial results are combined with a precomputed shift;
// - on x86-64 with carry-less multiplication (PCLMULQDQ), folding: four 16-byte accumulators each multiplied forward
//   by 64 bytes and added to the next 64, then reduced to 16 bytes whose CRC is the input's.
// - on x86-64 with AVX-512 and VPCLMULQDQ (AMD Zen 4, Intel Ice Lake and later), the same folding four 16-byte
//   lanes to an instruction: four 64-byte accumulators each moved forward by 256 bytes.
// Which is faster depends on the CPU: on AMD's first Zen cores the CRC-32C instruction issues once every three
// cycles and folding is 1.4-1.7x faster; on cores that issue it every cycle the three streams are as fast or faster;
// where the wide fold exists it is several times faster than either. So the library times each once as it loads and
// uses the fastest.

#include "kafka_crc32c.h"

#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <nmmintrin.h>
#include <time.h>
#include <wmmintrin.h>
#define KAFKA_CRC_TARGET __attribute__((target("sse4.2")))
#define KAFKA_FOLD_TARGET __attribute__((target("sse4.2,pclmul")))
#define KAFKA_WIDE_FOLD_TARGET __attribute__((target("sse4.2,pclmul,avx512f,avx512vl,vpclmulqdq")))
#include <immintrin.h>
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

static void choose_implementation(void);

// Filled once as the library loads, before any thread can checksum.
__attribute__((constructor)) static void fill_shift_tables(void) {
    fill_shift_table(long_shift_table, LONG_BLOCK_SHIFT);
    fill_shift_table(short_shift_table, SHORT_BLOCK_SHIFT);
    choose_implementation();
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
uint32_t kafka_crc32c_three_streams(uint32_t state, const void *bytes, size_t length) {
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


#if defined(__x86_64__)

// x^n modulo the polynomial, in the reflected order (bit 31 is x^0).
static uint32_t x_to_the(unsigned n) {
    uint32_t power = 0x80000000u;
    while (n--) power = (power & 1) ? (power >> 1) ^ 0x82F63B78u : power >> 1;
    return power;
}

// Sixteen bytes loaded little-endian hold, in the reflected order, a polynomial of degree < 128 whose low 64-bit
// lane is the high half H (x^127..x^64) and whose high lane is the low half L. Moving them `distance` bits further
// along is H * x^(64 + distance) + L * x^distance, and modulo the polynomial each power is a 32-bit constant. A
// carry-less product of two reflected 64-bit lanes comes out multiplied by x once more, so the constants are the
// powers less one; in a lane, a constant's reflected bits sit in the upper half.
static uint64_t fold_2048[2], fold_512[2], fold_128[2];
static int has_carryless_multiply, has_wide_carryless_multiply;

static void fill_fold_constants(uint64_t constants[2], unsigned distance) {
    constants[0] = (uint64_t)x_to_the(64 + distance - 1) << 32;
    constants[1] = (uint64_t)x_to_the(distance - 1) << 32;
}

KAFKA_FOLD_TARGET
static inline __m128i fold(__m128i value, __m128i constants) {
    return _mm_xor_si128(_mm_clmulepi64_si128(value, constants, 0x00), _mm_clmulepi64_si128(value, constants, 0x11));
}

#define LOAD(p) _mm_loadu_si128((const __m128i *)(p))

// The last of folding: `d` holds the remainder so far of everything before `p`; fold in what is left of the input
// 16 bytes at a time, then reduce.
KAFKA_FOLD_TARGET
static inline uint32_t fold_tail(__m128i d, const unsigned char *p, size_t length) {
    const __m128i by128 = _mm_set_epi64x((long long)fold_128[1], (long long)fold_128[0]);
    while (length >= 16) {
        d = _mm_xor_si128(fold(d, by128), LOAD(p));
        p += 16;
        length -= 16;
    }
    // What is left is a 16-byte input with the same remainder: its CRC from a zero state is the input's so far.
    uint32_t crc = (uint32_t)_mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(d));
    crc = (uint32_t)_mm_crc32_u64(crc, (uint64_t)_mm_extract_epi64(d, 1));
    return crc_words(crc, p, length);
}

KAFKA_FOLD_TARGET
uint32_t kafka_crc32c_folded(uint32_t state, const void *bytes, size_t length) {
    const unsigned char *p = bytes;
    if (length < 64) return crc_words(state, p, length);
    const __m128i by512 = _mm_set_epi64x((long long)fold_512[1], (long long)fold_512[0]);
    const __m128i by128 = _mm_set_epi64x((long long)fold_128[1], (long long)fold_128[0]);
    // The state enters as if added to the first four bytes.
    __m128i a = _mm_xor_si128(LOAD(p), _mm_cvtsi32_si128((int)state));
    __m128i b = LOAD(p + 16), c = LOAD(p + 32), d = LOAD(p + 48);
    p += 64;
    length -= 64;
    while (length >= 64) {
        a = _mm_xor_si128(fold(a, by512), LOAD(p));
        b = _mm_xor_si128(fold(b, by512), LOAD(p + 16));
        c = _mm_xor_si128(fold(c, by512), LOAD(p + 32));
        d = _mm_xor_si128(fold(d, by512), LOAD(p + 48));
        p += 64;
        length -= 64;
    }
    d = _mm_xor_si128(fold(_mm_xor_si128(fold(_mm_xor_si128(fold(a, by128), b), by128), c), by128), d);
    return fold_tail(d, p, length);
}

// Each 128-bit lane of a 512-bit carry-less multiply is independent, so a 64-byte accumulator is four of the
// accumulators above side by side, moved forward together. `value` folded by the lane constants, plus `next`, in one
// three-way XOR.
KAFKA_WIDE_FOLD_TARGET
static inline __m512i fold_wide(__m512i value, __m512i constants, __m512i next) {
    return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(value, constants, 0x00),
                                     _mm512_clmulepi64_epi128(value, constants, 0x11), next, 0x96);
}

#define LOAD_WIDE(p) _mm512_loadu_si512((const void *)(p))

KAFKA_WIDE_FOLD_TARGET
uint32_t kafka_crc32c_folded_wide(uint32_t state, const void *bytes, size_t length) {
    const unsigned char *p = bytes;
    if (length < 256) return kafka_crc32c_folded(state, p, length);
    const __m512i by2048 = _mm512_broadcast_i32x4(_mm_set_epi64x((long long)fold_2048[1], (long long)fold_2048[0]));
    const __m512i by512 = _mm512_broadcast_i32x4(_mm_set_epi64x((long long)fold_512[1], (long long)fold_512[0]));
    const __m128i by128 = _mm_set_epi64x((long long)fold_128[1], (long long)fold_128[0]);
    __m512i a = _mm512_xor_si512(LOAD_WIDE(p), _mm512_zextsi128_si512(_mm_cvtsi32_si128((int)state)));
    __m512i b = LOAD_WIDE(p + 64), c = LOAD_WIDE(p + 128), d = LOAD_WIDE(p + 192);
    p += 256;
    length -= 256;
    while (length >= 256) {
        a = fold_wide(a, by2048, LOAD_WIDE(p));
        b = fold_wide(b, by2048, LOAD_WIDE(p + 64));
        c = fold_wide(c, by2048, LOAD_WIDE(p + 128));
        d = fold_wide(d, by2048, LOAD_WIDE(p + 192));
        p += 256;
        length -= 256;
    }
    d = fold_wide(fold_wide(fold_wide(a, by512, b), by512, c), by512, d);
    while (length >= 64) {
        d = fold_wide(d, by512, LOAD_WIDE(p));
        p += 64;
        length -= 64;
    }
    // The accumulator's four lanes are 64 consecutive bytes' remainder: fold them into one, 16 bytes at a time.
    __m128i x = _mm512_extracti32x4_epi32(d, 0);
    x = _mm_xor_si128(fold(x, by128), _mm512_extracti32x4_epi32(d, 1));
    x = _mm_xor_si128(fold(x, by128), _mm512_extracti32x4_epi32(d, 2));
    x = _mm_xor_si128(fold(x, by128), _mm512_extracti32x4_epi32(d, 3));
    return fold_tail(x, p, length);
}

#undef LOAD_WIDE
#undef LOAD

static uint32_t (*chosen)(uint32_t, const void *, size_t) = kafka_crc32c_three_streams;

// AVX-512 (foundation and 128/256-bit forms) with VPCLMULQDQ, and an operating system that saves the 512-bit
// registers (XCR0: SSE, AVX, opmask and both halves of the upper ZMM state).
static int detect_wide_carryless_multiply(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_OSXSAVE)) return 0;
    unsigned int xcr0_low, xcr0_high;
    __asm__ volatile("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
    if ((xcr0_low & 0xE6) != 0xE6) return 0;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    const unsigned int avx512f = 1u << 16, avx512vl = 1u << 31, vpclmulqdq = 1u << 10;
    return (ebx & avx512f) && (ebx & avx512vl) && (ecx & vpclmulqdq);
}

// The best of five runs of each over 32 KiB (about 10 us each), alternating. Every result is correct; the timing
// only picks the fastest.
static void choose_implementation(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_SSE4_2) || !(ecx & bit_PCLMUL)) return;
    has_carryless_multiply = 1;
    has_wide_carryless_multiply = detect_wide_carryless_multiply();
    fill_fold_constants(fold_2048, 2048);
    fill_fold_constants(fold_512, 512);
    fill_fold_constants(fold_128, 128);
    static unsigned char sample[32768];
    uint32_t (*const candidates[3])(uint32_t, const void *, size_t) = {
        kafka_crc32c_three_streams, kafka_crc32c_folded, kafka_crc32c_folded_wide};
    const int count = has_wide_carryless_multiply ? 3 : 2;
    long best[3] = {-1, -1, -1};
    volatile uint32_t sink = 0;
    for (int round = 0; round < 5; round++) {
        for (int k = 0; k < count; k++) {
            struct timespec start, end;
            clock_gettime(CLOCK_MONOTONIC, &start);
            sink ^= candidates[k](sink, sample, sizeof sample);
            clock_gettime(CLOCK_MONOTONIC, &end);
            long nanoseconds = (end.tv_sec - start.tv_sec) * 1000000000L + (end.tv_nsec - start.tv_nsec);
            if (best[k] < 0 || nanoseconds < best[k]) best[k] = nanoseconds;
        }
    }
    int fastest = 0;
    for (int k = 1; k < count; k++)
        if (best[k] < best[fastest]) fastest = k;
    chosen = candidates[fastest];
}

int kafka_crc32c_folding_available(void) { return has_carryless_multiply; }
int kafka_crc32c_wide_folding_available(void) { return has_wide_carryless_multiply; }
int kafka_crc32c_uses_folding(void) { return chosen == kafka_crc32c_folded || chosen == kafka_crc32c_folded_wide; }
int kafka_crc32c_uses_wide_folding(void) { return chosen == kafka_crc32c_folded_wide; }

uint32_t kafka_crc32c_hardware(uint32_t state, const void *bytes, size_t length) {
    return length >= 128 ? chosen(state, bytes, length) : kafka_crc32c_three_streams(state, bytes, length);
}

#else

static void choose_implementation(void) {}
int kafka_crc32c_folding_available(void) { return 0; }
int kafka_crc32c_wide_folding_available(void) { return 0; }
int kafka_crc32c_uses_folding(void) { return 0; }
int kafka_crc32c_uses_wide_folding(void) { return 0; }
uint32_t kafka_crc32c_folded(uint32_t state, const void *bytes, size_t length) {
    return kafka_crc32c_three_streams(state, bytes, length);
}
uint32_t kafka_crc32c_folded_wide(uint32_t state, const void *bytes, size_t length) {
    return kafka_crc32c_three_streams(state, bytes, length);
}
uint32_t kafka_crc32c_hardware(uint32_t state, const void *bytes, size_t length) {
    return kafka_crc32c_three_streams(state, bytes, length);
}

#endif

#else

int kafka_crc32c_hardware_available(void) { return 0; }
int kafka_crc32c_folding_available(void) { return 0; }
int kafka_crc32c_wide_folding_available(void) { return 0; }
int kafka_crc32c_uses_folding(void) { return 0; }
int kafka_crc32c_uses_wide_folding(void) { return 0; }
uint32_t kafka_crc32c_hardware(uint32_t state, const void *bytes, size_t length) {
    (void)bytes;
    (void)length;
    return state;
}
uint32_t kafka_crc32c_three_streams(uint32_t state, const void *bytes, size_t length) {
    return kafka_crc32c_hardware(state, bytes, length);
}
uint32_t kafka_crc32c_folded(uint32_t state, const void *bytes, size_t length) {
    return kafka_crc32c_hardware(state, bytes, length);
}
uint32_t kafka_crc32c_folded_wide(uint32_t state, const void *bytes, size_t length) {
    return kafka_crc32c_hardware(state, bytes, length);
}

#endif
