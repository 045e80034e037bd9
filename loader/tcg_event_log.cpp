#include "tcg_event_log.h"

namespace kho {

namespace {

uint32_t le32(const uint8_t* p) { return p[0] | p[1] << 8 | p[2] << 16 | uint32_t(p[3]) << 24; }
uint16_t le16(const uint8_t* p) { return uint16_t(p[0] | p[1] << 8); }

constexpr char kSpecIdSignature[] = "Spec ID Event03";  // 16 bytes with its NUL
constexpr uint32_t kEvNoAction = 3;

}  // namespace

bool tcg_spec_id(const uint8_t* log, size_t avail, TcgDigestSizes* out, size_t* spec_size) {
    // pcrIndex, eventType, SHA1 digest[20], eventSize, then the event.
    constexpr size_t kHeader = 4 + 4 + 20 + 4;
    if (avail < kHeader || le32(log + 4) != kEvNoAction) return false;
    uint32_t n = le32(log + 28);
    if (n > avail - kHeader || n < 16 + 4 + 4 + 4) return false;
    const uint8_t* e = log + kHeader;
    for (size_t i = 0; i < 16; i++)
        if (e[i] != uint8_t(kSpecIdSignature[i])) return false;
    // signature[16], platformClass, version minor/major/errata, uintnSize,
    // numberOfAlgorithms, then {algorithmId, digestSize} each.
    uint32_t algs = le32(e + 24);
    if (algs == 0 || algs > TcgDigestSizes::kMax || 28 + size_t(algs) * 4 > n) return false;
    out->count = algs;
    for (uint32_t i = 0; i < algs; i++) {
        out->alg[i] = le16(e + 28 + 4 * i);
        out->size[i] = le16(e + 30 + 4 * i);
    }
    *spec_size = kHeader + n;
    return true;
}

size_t tcg_event2_size(const uint8_t* event, size_t avail, const TcgDigestSizes& d) {
    // pcrIndex, eventType, digests.count, then {hashAlg, digest} each,
    // eventSize, event.
    if (avail < 12) return 0;
    uint32_t count = le32(event + 8);
    if (count == 0 || count > d.count) return 0;
    size_t off = 12;
    for (uint32_t i = 0; i < count; i++) {
        if (avail - off < 2) return 0;
        uint16_t alg = le16(event + off);
        uint32_t j = 0;
        while (j < d.count && d.alg[j] != alg) j++;
        if (j == d.count) return 0;
        off += 2;
        if (avail - off < d.size[j]) return 0;
        off += d.size[j];
    }
    if (avail - off < 4) return 0;
    uint32_t n = le32(event + off);
    off += 4;
    if (avail - off < n) return 0;
    return off + n;
}

}  // namespace kho
