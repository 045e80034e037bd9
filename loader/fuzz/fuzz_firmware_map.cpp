// Firmware memory maps as the firmware may really hand them over:
// unsorted, overlapping, with zero-page, unaligned, absurdly large or
// wrapping descriptors, any DescriptorSize. kho::firmware_ram() (what
// EfiPhysMem and placement build on), the PhysMem over it
// (fuzz::FirmwareMem, EfiPhysMem's logic) and make_memory_plan() are
// checked against a plain reference computed here with std::vector: a
// malformed descriptor must be refused, and otherwise RAM, free memory,
// what to allocate, conflicts and their owners, overlaps, the first bad
// scratch range and free scratch are exactly what the map says.
//
// Input: u8 stride selector (DescriptorSize = 40 + 8 * (v % 8)), u16
// descriptor count (at most 2048, the EFI app's 96 KiB map buffer), the
// descriptors (40 raw bytes each: type, pad, physical_start,
// virtual_start, number_of_pages, attribute), u8 protected and u8 scratch
// range counts, ranges {u64 start, u64 end}, u8 query count, queries
// {u64 addr, u32 len} for is_ram()/view(), then RAM content.
#include <string.h>

#include <algorithm>
#include <vector>

#include "fuzz_mem.h"

namespace {

using namespace kho;
namespace fz = kho::fuzz;
namespace efi = abi::efi;
using Ranges = std::vector<Range>;

#define CHECK(cond) \
    do {            \
        if (!(cond)) __builtin_trap(); \
    } while (0)

constexpr size_t kMaxDescriptors = fz::kEfiMapBytes / 48;
alignas(8) uint8_t g_map[kMaxDescriptors * 96];
Range g_protect[fz::kEfiProtectRanges], g_scratch[64], g_work[fz::kEfiWorkRanges];
Range g_allocate[fz::kEfiProtectRanges], g_free_scratch[fz::kEfiScratchFree], g_overlaps[fz::kEfiOverlaps];
Range g_ram[fz::kEfiMapRanges], g_free[fz::kEfiMapRanges];
Conflict g_conflicts[64];

Ranges merged(Ranges v) {
    std::sort(v.begin(), v.end(), [](const Range& a, const Range& b) { return a.start < b.start; });
    Ranges out;
    for (const Range& r : v) {
        if (r.empty()) continue;
        if (!out.empty() && r.start <= out.back().end) out.back().end = std::max(out.back().end, r.end);
        else out.push_back(r);
    }
    return out;
}
Ranges intersect(const Ranges& a, const Ranges& b) {
    Ranges out;
    for (const Range& x : a)
        for (const Range& y : b) {
            uint64_t s = std::max(x.start, y.start), e = std::min(x.end, y.end);
            if (s < e) out.push_back({s, e});
        }
    return merged(out);
}
// The parts of `r` no range of sorted, merged `b` covers.
Ranges gaps(const Range& r, const Ranges& b) {
    Ranges out;
    uint64_t cur = r.start;
    for (const Range& y : b) {
        if (y.end <= cur || y.start >= r.end) continue;
        if (y.start > cur) out.push_back({cur, y.start});
        cur = std::max(cur, y.end);
    }
    if (cur < r.end) out.push_back({cur, r.end});
    return out;
}
Ranges subtract(const Ranges& a, const Ranges& b) {
    Ranges out;
    for (const Range& x : a)
        for (const Range& g : gaps(x, b)) out.push_back(g);
    return merged(out);
}
bool same(const RangeSet& s, const Ranges& v) {
    if (s.size() != v.size()) return false;
    for (size_t i = 0; i < v.size(); i++)
        if (s[i].start != v[i].start || s[i].end != v[i].end) return false;
    return true;
}
Ranges of(const RangeSet& s) { return Ranges(s.begin(), s.end()); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fz::Reader in(data, size);
    const size_t stride = 40 + 8 * (in.take<uint8_t>() % 8);
    const size_t nd = in.take<uint16_t>() % (kMaxDescriptors + 1);
    memset(g_map, 0, nd * stride);
    bool malformed = false;
    Ranges ram_ref, free_ref;
    for (size_t i = 0; i < nd; i++) {
        efi::MemoryDescriptor d;
        const uint8_t* raw;
        size_t got = in.bytes(sizeof(d), &raw);
        memset(&d, 0, sizeof(d));
        memcpy(&d, raw, got);
        memcpy(g_map + i * stride, &d, sizeof(d));
        uint64_t end;
        if ((d.physical_start & 4095) || d.number_of_pages > (~0ull >> 12) ||
            __builtin_add_overflow(d.physical_start, d.number_of_pages << 12, &end)) {
            malformed = true;
            continue;
        }
        if (efi_type_is_ram(d.type)) ram_ref.push_back({d.physical_start, end});
        if (d.type == efi::kConventionalMemory) free_ref.push_back({d.physical_start, end});
    }
    ram_ref = merged(ram_ref);
    free_ref = merged(free_ref);
    const FirmwareMemoryMap map{g_map, nd, stride};

    RangeSet protect(g_protect, fz::kEfiProtectRanges), scratch(g_scratch, 64);
    for (RangeSet* set : {&protect, &scratch}) {
        unsigned n = in.take<uint8_t>();
        for (unsigned i = 0; i < n; i++) {
            uint64_t s = in.take<uint64_t>() & ~4095ull, e = in.take<uint64_t>() & ~4095ull;
            if (!set->add(s, e)) return 0;
        }
        set->normalize();
    }
    struct Query {
        uint64_t addr;
        uint32_t len;
    } queries[256];
    unsigned nq = in.take<uint8_t>();
    for (unsigned i = 0; i < nq; i++) queries[i] = {in.take<uint64_t>(), in.take<uint32_t>()};
    const uint8_t* image;
    size_t image_len = in.bytes(in.left(), &image);

    // firmware_ram(): refuses a malformed map, else says what the map says.
    RangeSet ram(g_ram, fz::kEfiMapRanges), free_memory(g_free, fz::kEfiMapRanges);
    Status s = firmware_ram(map, ram, free_memory);
    if (malformed) CHECK(!s);
    if (!malformed && !s) CHECK(s.code() == Err::Capacity);
    if (s) CHECK(same(ram, ram_ref) && same(free_memory, free_ref));

    // The PhysMem over it (EfiPhysMem's rules; view() also needs the
    // bytes to lie within one repetition of the image).
    fz::FirmwareMem mem(image, image_len, 0);
    if (mem.load(map)) {
        for (unsigned i = 0; i < nq; i++) {
            const Query& q = queries[i];
            uint64_t end;
            bool ref = q.len && !__builtin_add_overflow(q.addr, q.len, &end) &&
                       gaps({q.addr, end}, ram_ref).empty();
            CHECK(mem.is_ram(q.addr, q.len) == ref);
            const uint8_t* p = mem.view(q.addr, q.len);
            CHECK(!p || (ref && q.addr >= fz::kPage));
            if (p) {
                volatile uint8_t last = p[q.len - 1];  // readable to the end (ASan)
                (void)last;
            }
        }
    }

    // make_memory_plan() with the EFI app's storage (more conflict slots,
    // so every conflict can be accounted for).
    RangeSet allocate(g_allocate, fz::kEfiProtectRanges), free_scratch(g_free_scratch, fz::kEfiScratchFree),
        overlaps(g_overlaps, fz::kEfiOverlaps);
    MemoryPlan plan{&allocate, &free_scratch, &overlaps, g_conflicts, 64};
    Status ps = make_memory_plan(map, protect, scratch, g_work, fz::kEfiWorkRanges, plan);
    if (malformed) CHECK(!ps);
    if (!ps) {
        CHECK(ps.code() == Err::Capacity || malformed);
        return 0;
    }
    const Ranges prot = of(protect), scr = of(scratch);
    CHECK(same(allocate, intersect(prot, free_ref)));
    CHECK(same(overlaps, intersect(prot, scr)));
    CHECK(same(free_scratch, subtract(intersect(scr, free_ref), prot)));
    // Conflicts: exactly the protected bytes outside free memory, in
    // address order, each owned by the first descriptor listing its start.
    Ranges want_conflicts;
    for (const Range& r : prot)
        for (const Range& g : gaps(r, free_ref)) want_conflicts.push_back(g);
    uint64_t want_bytes = 0, got_bytes = 0;
    for (const Range& r : want_conflicts) want_bytes += r.size();
    size_t shown = std::min(plan.conflict_count, plan.conflict_capacity);
    for (size_t i = 0; i < shown; i++) {
        const Conflict& c = g_conflicts[i];
        CHECK(!c.range.empty() && protect.contains(c.range.start, c.range.end));
        CHECK(gaps(c.range, free_ref).size() == 1 && gaps(c.range, free_ref)[0].start == c.range.start &&
              gaps(c.range, free_ref)[0].end == c.range.end);
        if (i) CHECK(g_conflicts[i - 1].range.end <= c.range.start);
        got_bytes += c.range.size();
        uint32_t owner = Conflict::kNotInMap;
        uint64_t owner_end = 0;
        for (size_t k = 0; k < nd; k++) {
            const efi::MemoryDescriptor& d = map.at(k);
            uint64_t ds = d.physical_start, de = ds + d.number_of_pages * 4096;
            if (ds <= c.range.start && c.range.start < de) {
                owner = d.type;
                owner_end = de;
                break;
            }
        }
        CHECK(c.owner == owner);
        if (owner != Conflict::kNotInMap) CHECK(c.range.end <= owner_end);
    }
    if (plan.conflict_count <= plan.conflict_capacity) CHECK(got_bytes == want_bytes);
    CHECK((plan.conflict_count == 0) == want_conflicts.empty());
    // The first scratch range that is not RAM, from its first missing byte.
    Range bad{0, 0};
    for (const Range& r : scr) {
        Ranges g = gaps(r, ram_ref);
        if (!g.empty()) {
            bad = g[0];
            break;
        }
    }
    CHECK(plan.bad_scratch.start == bad.start && plan.bad_scratch.end == bad.end);
    return 0;
}
