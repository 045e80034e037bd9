#include "measured_boot.h"

namespace kho {

namespace {

constexpr MeasurementSpec kSpecs[] = {
    {4, 0x4b484f01, "khoboot kernel"},
    {9, 0x8F3B22EC, "Linux initrd"},
    {12, 0x8F3B22ED, "khoboot command line"},
    {12, 0x4b484f02, "KHO descriptor"},
    {12, 0x4b484f03, "KHO root FDT"},
    {12, 0x4b484f04, "KHO scratch table"},
    {12, 0x4b484f05, "KHO manifest"},
};
static_assert(sizeof(kSpecs) / sizeof(kSpecs[0]) == size_t(MeasuredItem::KhoManifest) + 1);

void put32(uint8_t* p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = uint8_t(v >> (8 * i));
}

}  // namespace

const MeasurementSpec& measurement_spec(MeasuredItem item) { return kSpecs[size_t(item)]; }

uint32_t tagged_event(MeasuredItem item, uint8_t* out, uint32_t capacity) {
    const MeasurementSpec& s = measurement_spec(item);
    uint32_t n = 0;
    while (s.description[n]) n++;
    if (capacity < 8 + n) return 0;
    put32(out, s.tag);
    put32(out + 4, n);
    for (uint32_t i = 0; i < n; i++) out[8 + i] = uint8_t(s.description[i]);
    return 8 + n;
}

}  // namespace kho
