// Building a synthetic KHO state (see synth.h).
#include "synth.h"

#include <algorithm>
#include <cstring>

#include "abi/kho_radix.h"
#include "abi/kho_v1.h"
#include "abi/multikernel.h"
#include "loader/crc32.h"
#include "test_kernel/shared/block_pattern.h"
#include "test_kernel/shared/fdt_writer.h"
#include "test_kernel/shared/radix_encoder.h"
#include "test_kernel/shared/v1_encoder.h"

namespace kho::synth {

namespace mf = tk::manifest;
namespace pat = tk::pattern;

namespace {


uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }


// Busy ranges (scratch, metadata area, blocks placed out of order) that the
// block placement steps around.
class Busy {
public:
    void add(uint64_t s, uint64_t e) {
        auto it = std::lower_bound(r_.begin(), r_.end(), s,
                                   [](const Range& x, uint64_t v) { return x.start < v; });
        r_.insert(it, Range{s, e});
    }
    // First range overlapping [s, e), or nullptr.
    const Range* hit(uint64_t s, uint64_t e) const {
        auto it = std::upper_bound(r_.begin(), r_.end(), e,
                                   [](uint64_t v, const Range& x) { return v <= x.start; });
        // ranges are disjoint and sorted, so only those before `it` can overlap; scan back
        while (it != r_.begin()) {
            --it;
            if (it->end > s) return &*it;
            if (it->end <= s) break;
        }
        return nullptr;
    }

private:
    std::vector<Range> r_;
};

// Metadata pages come from a dedicated area at the start of the first
// arena; the encoders see them through this interface.
struct HostMem {
    State& s;
    uint64_t next, end;
    uint64_t alloc_page() {
        if (next + kPage > end) return 0;
        uint64_t p = next;
        next += kPage;
        s.pages[p].fill(0);
        return p;
    }
    uint64_t* page(uint64_t phys) { return s.pages.at(phys).data(); }
    uint8_t* bytes(uint64_t phys) { return reinterpret_cast<uint8_t*>(page(phys)); }
};

// [start, end) as the blocks kho_preserve_pages() would make of it.
void split(uint64_t start, uint64_t end, const char* kind, std::vector<State::MapBlock>* out) {
    for (uint64_t p = start; p < end;) {
        uint64_t pfn = p / kPage, left = (end - p) / kPage;
        unsigned a = pfn ? unsigned(__builtin_ctzll(pfn)) : 63;
        unsigned b = 63 - unsigned(__builtin_clzll(left));
        unsigned order = std::min(a, b);
        out->push_back({p, order, kind});
        p += kPage << order;
    }
}

// Copies `len` bytes to physical `phys` in metadata pages.
void put(HostMem& m, uint64_t phys, const void* src, uint64_t len) {
    const uint8_t* b = static_cast<const uint8_t*>(src);
    while (len) {
        uint64_t page = phys & ~(kPage - 1), off = phys - page;
        uint64_t n = std::min(len, kPage - off);
        std::memcpy(m.bytes(page) + off, b, n);
        phys += n, b += n, len -= n;
    }
}

std::string build_multikernel(const Options& o, State* s, HostMem& mem) {
    // multikernel-v1 (docs/kho-abi.md 10): one page, root compatible and a
    // node multikernel { dtb-data = <instance DTB> }; no map, no scratch.
    uint8_t inst[512] = {};
    tk::fdt::Writer iw(inst, sizeof(inst));
    iw.begin_node("");
    iw.prop_string("compatible", "khoboot,test-instance");
    iw.prop_u64_native("khoboot,seed", o.seed);
    iw.end_node();
    if (!iw.finish()) return "instance DTB does not fit";
    s->fdt = mem.alloc_page();
    uint8_t page[kPage] = {};
    tk::fdt::Writer w(page, kPage);
    w.begin_node("");
    w.prop_string("compatible", abi::multikernel::kCompatible);
    w.begin_node(abi::multikernel::kNode);
    w.prop(abi::multikernel::kPropDtbData, inst, iw.total_size());
    w.end_node();
    w.end_node();
    if (!w.finish()) return "multikernel FDT does not fit a page";
    put(mem, s->fdt, page, kPage);
    s->scratch.clear();
    return "";
}

}  // namespace

bool parse_format(const std::string& n, Format* f) {
    if (n == "kho-v4") *f = Format::V4;
    else if (n == "kho-v3") *f = Format::V3;
    else if (n == "kho-v2") *f = Format::V2;
    else if (n == "kho-v1") *f = Format::V1Page;
    else if (n == "kho-v1-512") *f = Format::V1Bytes512;
    else if (n == "multikernel-v1") *f = Format::Multikernel;
    else return false;
    return true;
}

const char* format_name(Format f) {
    switch (f) {
    case Format::V1Page: return "kho-v1";
    case Format::V1Bytes512: return "kho-v1-512";
    case Format::V2: return "kho-v2";
    case Format::V3: return "kho-v3";
    case Format::V4: return "kho-v4";
    case Format::Multikernel: return "multikernel-v1";
    }
    return "?";
}

abi::KhoVersion format_version(Format f) {
    switch (f) {
    case Format::V1Page:
    case Format::V1Bytes512: return abi::KhoVersion::V1;
    case Format::V2: return abi::KhoVersion::V2;
    case Format::V3: return abi::KhoVersion::V3;
    case Format::V4: return abi::KhoVersion::V4;
    case Format::Multikernel: return abi::KhoVersion::Multikernel1;
    }
    return abi::KhoVersion::V4;
}

static uint32_t manifest_format(Format f) {
    switch (f) {
    case Format::V1Page: return mf::kFormatV1Page;
    case Format::V1Bytes512: return mf::kFormatV1Bytes512;
    case Format::V2: return mf::kFormatV2;
    case Format::V3: return mf::kFormatV3;
    case Format::V4: return mf::kFormatV4;
    case Format::Multikernel: return mf::kFormatMultikernel;
    }
    return 0;
}

std::string build_state(const Options& o, State* s) {
    *s = State{};
    s->format = o.format;
    s->scratch = o.scratch;
    if (o.arenas.empty()) return "no arenas";
    if (o.min_order > o.max_order || o.max_order > 40) return "bad order range";
    if (o.scratch.size() > mf::kMaxScratch) return "more than 16 scratch regions";
    for (const auto& sc : o.scratch)
        if ((sc.addr | sc.size) % abi::kScratchAlignment || !sc.size)
            return "scratch regions must be non-empty and 2 MiB aligned";

    // Metadata area: the first 1/16 of the first arena (at least 4 MiB,
    // enough for any manifest and map the block count allows).
    const Range& a0 = o.arenas[0];
    uint64_t manifest_bytes = mf::total_size(o.blocks, 0);
    uint64_t meta_size = align_up(std::max<uint64_t>(4ull << 20, manifest_bytes * 2 + (8ull << 20)), 2ull << 20);
    if (a0.start + meta_size > a0.end) return "first arena too small for the metadata area";
    HostMem mem{*s, a0.start, a0.start + meta_size};
    Busy busy;
    busy.add(a0.start, a0.start + meta_size);
    for (const auto& sc : o.scratch) busy.add(sc.addr, sc.addr + sc.size);

    if (o.format == Format::Multikernel) return build_multikernel(o, s, mem);

    // ---- blocks
    std::vector<unsigned> orders;
    uint64_t rnd = pat::mix64(o.seed);
    auto next_rand = [&]() { return rnd = pat::mix64(rnd + 0x9e3779b97f4a7c15ull); };
    if (o.each_order)
        for (unsigned k = o.min_order; k <= o.max_order && orders.size() < o.blocks; ++k) orders.push_back(k);
    while (orders.size() < o.blocks) {
        unsigned k = o.min_order + unsigned(__builtin_ctzll(next_rand() | (1ull << 63)));
        orders.push_back(std::min(k, o.max_order));
    }
    std::vector<uint64_t> at(orders.size(), 0);

    // Edge blocks first: [scratch.addr - size, scratch.addr) and
    // [scratch.end, scratch.end + size), for the first orders drawn that fit.
    size_t next_edge = 0;
    if (o.edge_blocks) {
        for (const auto& sc : o.scratch) {
            for (int side = 0; side < 2; ++side) {
                for (; next_edge < orders.size(); ++next_edge) {
                    uint64_t size = kPage << orders[next_edge];
                    if (orders[next_edge] > 9) continue;  // 2 MiB-aligned edges fit order <= 9
                    uint64_t want = side == 0 ? sc.addr - size : sc.addr + sc.size;
                    bool inside = false;
                    for (const auto& ar : o.arenas)
                        inside = inside || (ar.start <= want && want + size <= ar.end);
                    if (inside && !busy.hit(want, want + size)) {
                        at[next_edge] = want;
                        busy.add(want, want + size);
                        ++next_edge;
                    }
                    break;
                }
            }
        }
    }

    // The rest: alternating arenas (so both sides of 4 GiB get blocks),
    // bottom-up, in runs of adjacent blocks separated by small gaps.
    std::vector<uint64_t> cursor;
    for (const auto& ar : o.arenas) cursor.push_back(ar.start);
    std::vector<size_t> sequence;
    for (size_t i = 0; i < orders.size(); ++i)
        if (!at[i]) sequence.push_back(i);
    if (o.by_order)
        std::stable_sort(sequence.begin(), sequence.end(), [&](size_t a, size_t b) { return orders[a] > orders[b]; });
    size_t turn = 0;
    for (size_t i : sequence) {
        uint64_t size = kPage << orders[i];
        bool placed = false;
        for (size_t k = 0; k < o.arenas.size() && !placed; ++k) {
            size_t ai = (turn + k) % o.arenas.size();
            uint64_t pos = align_up(cursor[ai], size);
            while (pos + size <= o.arenas[ai].end) {
                const Range* h = busy.hit(pos, pos + size);
                if (!h) break;
                pos = align_up(h->end, size);
            }
            if (pos + size > o.arenas[ai].end || pos < cursor[ai]) continue;
            at[i] = pos;
            cursor[ai] = pos + size;
            if (o.cluster && next_rand() % o.cluster == 0) cursor[ai] += kPage * (1 + next_rand() % 16);
            placed = true;
        }
        if (!placed) return "arenas full: block " + std::to_string(i) + " of order " + std::to_string(orders[i]);
        ++turn;
    }

    for (size_t i = 0; i < orders.size(); ++i) {
        mf::Entry e{};
        e.phys = at[i];
        e.order = uint8_t(orders[i]);
        e.fill = orders[i] <= o.full_max_order ? mf::kFillFull : mf::kFillEdges;
        e.hop = 0;
        e.seed = pat::block_seed(o.seed, 0, i);
        pat::Extents x = pat::extents(e.phys, e.order, e.fill);
        pat::Digest d;
        for (unsigned k = 0; k < x.count; ++k) {
            for (uint64_t w = 0; w < x.len[k] / 8; ++w) d.add(pat::word_at(e.seed, x.start[k] + 8 * w));
            s->written_bytes += x.len[k];
        }
        e.digest = d.h;
        s->entries.push_back(e);
    }
    std::sort(s->entries.begin(), s->entries.end(),
              [](const mf::Entry& a, const mf::Entry& b) { return a.phys < b.phys; });

    // ---- root FDT page, then the manifest blob (kho-v1: inside a sub-FDT)
    bool v1 = o.format == Format::V1Page || o.format == Format::V1Bytes512;
    s->fdt = mem.alloc_page();
    s->manifest_size = mf::total_size(s->entries.size(), 0);
    s->blob_size = v1 ? s->manifest_size + 512 : s->manifest_size;
    uint64_t blob_pages = (s->blob_size + kPage - 1) / kPage;
    s->blob = mem.next;
    for (uint64_t i = 0; i < blob_pages; ++i)
        if (!mem.alloc_page()) return "metadata area full (manifest)";
    std::vector<uint8_t> blob(blob_pages * kPage, 0);
    uint64_t mf_off = 0;
    if (v1) {
        tk::fdt::Writer sub(blob.data(), blob.size());
        sub.begin_node("");
        sub.prop_string("compatible", mf::kSubFdtCompatible);
        uint8_t* v = sub.prop_aligned8(mf::kSubFdtProperty, nullptr, uint32_t(s->manifest_size));
        sub.end_node();
        if (!v || !sub.finish()) return "manifest sub-FDT does not fit";
        mf_off = uint64_t(v - blob.data());
        s->blob_size = sub.total_size();
    }
    s->manifest = s->blob + mf_off;
    mf::Header h{};
    h.magic = mf::kMagic;
    h.version = mf::kVersion;
    h.header_size = sizeof(h);
    h.total_size = s->manifest_size;
    h.hop = 0;
    h.format = manifest_format(o.format);
    h.entry_count = s->entries.size();
    h.retired_count = 0;
    h.root_fdt = s->fdt;
    h.seed = o.seed;
    h.scratch_count = uint32_t(o.scratch.size());
    for (size_t i = 0; i < o.scratch.size(); ++i) h.scratch[i] = o.scratch[i];
    h.body_crc32 = crc32(s->entries.data(), s->entries.size() * sizeof(mf::Entry));
    h.header_crc32 = crc32(&h, sizeof(h));
    std::memcpy(blob.data() + mf_off, &h, sizeof(h));
    std::memcpy(blob.data() + mf_off + sizeof(h), s->entries.data(), s->entries.size() * sizeof(mf::Entry));
    put(mem, s->blob, blob.data(), blob.size());

    // ---- the map: data blocks plus the FDT page and the blob pages, which
    // a producer preserves like any KHO user's data
    for (const auto& e : s->entries) s->map_blocks.push_back({e.phys, e.order, "data"});
    split(s->fdt, s->fdt + kPage, "fdt", &s->map_blocks);
    split(s->blob, s->blob + blob_pages * kPage, "manifest", &s->map_blocks);
    std::sort(s->map_blocks.begin(), s->map_blocks.end(),
              [](const State::MapBlock& a, const State::MapBlock& b) { return a.phys < b.phys; });
    if (v1) {
        tk::V1Encoder<HostMem> enc(mem, o.format == Format::V1Bytes512 ? abi::v1::BitmapLayout::Bytes512
                                                                       : abi::v1::BitmapLayout::Page);
        // orders ascending, addresses ascending within one order
        std::vector<State::MapBlock> by_order = s->map_blocks;
        std::stable_sort(by_order.begin(), by_order.end(),
                         [](const State::MapBlock& a, const State::MapBlock& b) { return a.order < b.order; });
        for (const auto& b : by_order)
            if (!enc.add(b.phys, b.order)) return "metadata area full (kho-v1 map)";
        s->map_root = enc.first_chunk();
        s->table_pages = enc.chunk_pages();
        s->leaf_pages = enc.bitmaps();
    } else {
        tk::RadixEncoder<HostMem> enc(mem, abi::radix::kGeometry4K);
        if (!enc.init()) return "metadata area full (radix root)";
        for (const auto& b : s->map_blocks)
            if (!enc.add(b.phys, b.order)) return "metadata area full (radix map)";
        s->map_root = enc.root();
        s->table_pages = enc.table_pages();
        s->leaf_pages = enc.leaf_pages();
    }

    // ---- root FDT (docs/kho-abi.md 3)
    uint8_t page[kPage] = {};
    tk::fdt::Writer w(page, kPage);
    abi::KhoVersion ver = format_version(o.format);
    w.begin_node("");
    w.prop_string("compatible", abi::KhoVersion::V1 == ver   ? abi::kCompatV1
                                : abi::KhoVersion::V2 == ver ? abi::kCompatV2
                                : abi::KhoVersion::V3 == ver ? abi::kCompatV3
                                                             : abi::kCompatV4);
    w.prop_u64_native(abi::kPropPreservedMemoryMap, s->map_root);
    w.begin_node(mf::kSubnodeName);
    if (v1) {
        w.prop_u64_native(abi::kPropSubFdtV1, s->blob);
    } else {
        w.prop_u64_native(abi::kPropPreservedData, s->blob);
        if (abi::has_blob_size(ver)) w.prop_u64_native(abi::kPropBlobSize, s->manifest_size);
    }
    w.end_node();
    w.end_node();
    if (!w.finish()) return "root FDT does not fit a page";
    put(mem, s->fdt, page, kPage);
    return "";
}

bool page_bytes(const State& s, uint64_t page, uint8_t out[4096]) {
    auto m = s.pages.find(page);
    if (m != s.pages.end()) {
        std::memcpy(out, m->second.data(), kPage);
        return true;
    }
    auto it = std::upper_bound(s.entries.begin(), s.entries.end(), page,
                               [](uint64_t v, const mf::Entry& e) { return v < e.phys; });
    if (it == s.entries.begin()) return false;
    const mf::Entry& e = *(it - 1);
    if (page >= e.phys + (kPage << e.order)) return false;
    pat::Extents x = pat::extents(e.phys, e.order, e.fill);
    for (unsigned k = 0; k < x.count; ++k) {
        if (page >= x.start[k] && page < x.start[k] + x.len[k]) {
            uint64_t* w = reinterpret_cast<uint64_t*>(out);
            for (uint64_t i = 0; i < kPage / 8; ++i) w[i] = pat::word_at(e.seed, page + 8 * i);
            return true;
        }
    }
    return false;
}

}  // namespace kho::synth
