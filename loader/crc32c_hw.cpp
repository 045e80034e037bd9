#include "crc32c_hw.h"

namespace kho::crc32c_hw {

#if defined(__x86_64__) || defined(__aarch64__)
namespace {

// One crc32 instruction has a latency of 3 cycles but a throughput of one
// per cycle (Intel optimization manual; Arm Neoverse guides give 2 and 1):
// a single dependent chain runs at a third of the unit's speed. So the
// input is cut into three adjacent blocks whose CRCs run interleaved, each
// from a zero register, and are joined afterwards: for blocks A, B,
//   reg(A || B) = shift_|B|(reg(A)) ^ reg_from_0(B)
// where shift_n is the (linear) effect of n zero bytes on the register.
// The scheme is Mark Adler's crc32c.c (zlib author, public domain note on
// stackoverflow.com/a/17646775), written anew here.
inline constexpr uint32_t kPoly = 0x82F63B78u;  // reflected Castagnoli
inline constexpr size_t kLong = 8192;           // per stream: big ranges
inline constexpr size_t kShort = 256;           // per stream: page-sized ranges

// A 32x32 matrix over GF(2): col[i] is the image of register bit i.
struct Gf2Matrix {
    uint32_t col[32] = {};
    constexpr uint32_t apply(uint32_t v) const {
        uint32_t r = 0;
        for (int i = 0; v; ++i, v >>= 1)
            if (v & 1) r ^= col[i];
        return r;
    }
    constexpr Gf2Matrix after(const Gf2Matrix& first) const {  // this o first
        Gf2Matrix m;
        for (int i = 0; i < 32; ++i) m.col[i] = apply(first.col[i]);
        return m;
    }
};

// shift_n as four 256-entry tables (one per register byte), built at
// compile time: the EFI image runs no initialisers.
struct ZeroShift {
    uint32_t t[4][256] = {};
    constexpr explicit ZeroShift(size_t bytes) {
        Gf2Matrix bit;  // one zero bit: reg >> 1, ^ kPoly when bit 0 was set
        bit.col[0] = kPoly;
        for (int i = 1; i < 32; ++i) bit.col[i] = 1u << (i - 1);
        Gf2Matrix base = bit.after(bit).after(bit.after(bit));
        base = base.after(base);  // one zero byte
        Gf2Matrix op;
        for (int i = 0; i < 32; ++i) op.col[i] = 1u << i;
        for (size_t n = bytes; n; n >>= 1, base = base.after(base))
            if (n & 1) op = base.after(op);
        for (int k = 0; k < 4; ++k)
            for (uint32_t b = 0; b < 256; ++b) t[k][b] = op.apply(b << (8 * k));
    }
    uint32_t operator()(uint32_t reg) const {
        return t[0][reg & 0xff] ^ t[1][(reg >> 8) & 0xff] ^ t[2][(reg >> 16) & 0xff] ^ t[3][reg >> 24];
    }
};
constexpr ZeroShift kShiftLong(kLong);
constexpr ZeroShift kShiftShort(kShort);

inline uint64_t load64(const uint8_t* p) {
    uint64_t v;
    __builtin_memcpy(&v, p, 8);
    return v;
}

}  // namespace
#endif

#if defined(__x86_64__)

bool x86_sse42_present() {
    uint32_t a = 1, b, c = 0, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    return (c >> 20) & 1;
}

namespace {

// Three streams of kBlock bytes each, as long as 3 * kBlock bytes remain.
template <size_t kBlock>
__attribute__((target("sse4.2"), always_inline)) inline uint64_t x86_streams(
    const uint8_t*& p, size_t& len, uint64_t c0, const ZeroShift& shift) {
    while (len >= 3 * kBlock) {
        uint64_t c1 = 0, c2 = 0;
        for (size_t i = 0; i < kBlock; i += 8) {
            c0 = __builtin_ia32_crc32di(c0, load64(p + i));
            c1 = __builtin_ia32_crc32di(c1, load64(p + kBlock + i));
            c2 = __builtin_ia32_crc32di(c2, load64(p + 2 * kBlock + i));
        }
        c0 = shift(uint32_t(c0)) ^ uint32_t(c1);
        c0 = shift(uint32_t(c0)) ^ uint32_t(c2);
        p += 3 * kBlock;
        len -= 3 * kBlock;
    }
    return c0;
}

}  // namespace

__attribute__((target("sse4.2"))) uint32_t x86_sse42(const uint8_t* p, size_t len, uint32_t reg) {
    uint64_t c = reg;
    for (; len && (reinterpret_cast<uintptr_t>(p) & 7); --len)
        c = __builtin_ia32_crc32qi(uint32_t(c), *p++);
    c = x86_streams<kLong>(p, len, c, kShiftLong);
    c = x86_streams<kShort>(p, len, c, kShiftShort);
    for (; len >= 8; len -= 8, p += 8) c = __builtin_ia32_crc32di(c, load64(p));
    for (; len; --len) c = __builtin_ia32_crc32qi(uint32_t(c), *p++);
    return uint32_t(c);
}

#endif  // __x86_64__

#if defined(__aarch64__)

// GCC spells the feature "+crc", clang "crc". The builtins behind
// arm_acle.h's __crc32cd/__crc32cb are named directly: older clang headers
// hide those unless the whole file is built with +crc.
#if defined(__clang__)
#define KHO_ARM_CRC __attribute__((target("crc")))
#define KHO_CRC32CD __builtin_arm_crc32cd
#define KHO_CRC32CB __builtin_arm_crc32cb
#else
#define KHO_ARM_CRC __attribute__((target("+crc")))
#define KHO_CRC32CD __builtin_aarch64_crc32cx
#define KHO_CRC32CB __builtin_aarch64_crc32cb
#endif

bool arm64_crc_present() {
    uint64_t isar0;
    __asm__ volatile("mrs %0, ID_AA64ISAR0_EL1" : "=r"(isar0));
    return ((isar0 >> 16) & 0xf) != 0;
}

namespace {

template <size_t kBlock>
KHO_ARM_CRC __attribute__((always_inline)) inline uint32_t arm_streams(
    const uint8_t*& p, size_t& len, uint32_t c0, const ZeroShift& shift) {
    while (len >= 3 * kBlock) {
        uint32_t c1 = 0, c2 = 0;
        for (size_t i = 0; i < kBlock; i += 8) {
            c0 = KHO_CRC32CD(c0, load64(p + i));
            c1 = KHO_CRC32CD(c1, load64(p + kBlock + i));
            c2 = KHO_CRC32CD(c2, load64(p + 2 * kBlock + i));
        }
        c0 = shift(c0) ^ c1;
        c0 = shift(c0) ^ c2;
        p += 3 * kBlock;
        len -= 3 * kBlock;
    }
    return c0;
}

}  // namespace

KHO_ARM_CRC uint32_t arm64_crc(const uint8_t* p, size_t len, uint32_t reg) {
    uint32_t c = reg;
    for (; len && (reinterpret_cast<uintptr_t>(p) & 7); --len) c = KHO_CRC32CB(c, *p++);
    c = arm_streams<kLong>(p, len, c, kShiftLong);
    c = arm_streams<kShort>(p, len, c, kShiftShort);
    for (; len >= 8; len -= 8, p += 8) c = KHO_CRC32CD(c, load64(p));
    for (; len; --len) c = KHO_CRC32CB(c, *p++);
    return c;
}

#endif  // __aarch64__

}  // namespace kho::crc32c_hw
