// Building a synthetic KHO state (see synth.h).
#include "synth.h"

#include <stdint.h>

#include <algorithm>
#include <cstring>

#include <libfdt.h>

#include "abi/multikernel.h"
#include "test_kernel/shared/block_pattern.h"
#include "test_kernel/shared/state_builder.h"

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

// The state builder's Env on the host (test_kernel/shared/state_builder.h).
// Metadata pages come from a dedicated area at the start of the first
// arena, backed by one host buffer; blocks are only digested (page_bytes()
// makes their bytes when the blobs are written).
struct SynthEnv {
    const Options& o;
    Busy& busy;
    uint64_t base, next, end;
    std::vector<uint8_t> area;  // [base, end)

    uint64_t alloc_meta(uint64_t bytes) {
        uint64_t size = align_up(bytes, kPage);
        if (size > end - next) return 0;
        uint64_t p = next;
        next += size;
        return p;
    }
    uint64_t alloc_page() { return alloc_meta(kPage); }
    uint64_t* page(uint64_t phys) { return reinterpret_cast<uint64_t*>(bytes(phys, kPage)); }
    uint8_t* bytes(uint64_t phys, uint64_t) { return area.data() + (phys - base); }
    bool claim(uint64_t at, uint64_t size) {
        bool inside = false;
        for (const auto& ar : o.arenas) inside = inside || (ar.start <= at && at + size <= ar.end);
        if (!inside || busy.hit(at, at + size)) return false;
        busy.add(at, at + size);
        return true;
    }
    uint64_t* block_words(uint64_t, uint64_t) { return nullptr; }

    // The pages handed out, as the state's metadata pages.
    void copy_pages(State* s) {
        for (uint64_t p = base; p < next; p += kPage) std::memcpy(s->pages[p].data(), bytes(p, kPage), kPage);
    }
};

// Layout randomness (splitmix64 steps from the state seed).
struct Rng {
    uint64_t v;
    uint64_t next() { return v = pat::mix64(v + 0x9e3779b97f4a7c15ull); }
};

// KHO properties are CPU-native u64 (docs/kho-abi.md section 3.2).
int prop_u64(void* fdt, const char* name, uint64_t v) { return fdt_property(fdt, name, &v, sizeof(v)); }

std::string build_multikernel(const Options& o, State* s, SynthEnv& env) {
    // multikernel-v1 (docs/kho-abi.md section 10): one page, root compatible and a
    // node multikernel { dtb-data = <instance DTB> }; no map, no scratch.
    uint8_t inst[512];
    int e = fdt_create(inst, sizeof(inst));
    if (!e) e = fdt_finish_reservemap(inst);
    if (!e) e = fdt_begin_node(inst, "");
    if (!e) e = fdt_property_string(inst, "compatible", "khoboot,test-instance");
    if (!e) e = prop_u64(inst, "khoboot,seed", o.seed);
    if (!e) e = fdt_end_node(inst);
    if (!e) e = fdt_finish(inst);
    if (e) return "instance DTB does not fit";
    s->fdt = env.alloc_meta(kPage);
    void* fdt = env.bytes(s->fdt, kPage);
    e = fdt_create(fdt, int(kPage));
    if (!e) e = fdt_finish_reservemap(fdt);
    if (!e) e = fdt_begin_node(fdt, "");
    if (!e) e = fdt_property_string(fdt, "compatible", abi::multikernel::kCompatible);
    if (!e) e = fdt_begin_node(fdt, abi::multikernel::kNode);
    if (!e) e = fdt_property(fdt, abi::multikernel::kPropDtbData, inst, int(fdt_totalsize(inst)));
    if (!e) e = fdt_end_node(fdt);
    if (!e) e = fdt_end_node(fdt);
    if (!e) e = fdt_finish(fdt);
    if (e) return "multikernel FDT does not fit a page";
    env.copy_pages(s);
    s->scratch.clear();
    return "";
}

std::string check_options(const Options& o) {
    if (o.arenas.empty()) return "no arenas";
    if (o.min_order > o.max_order || o.max_order > 40) return "bad order range";
    if (o.scratch.size() > mf::kMaxScratch) return "more than 16 scratch regions";
    for (const auto& sc : o.scratch)
        if ((sc.addr | sc.size) % abi::kScratchAlignment || !sc.size)
            return "scratch regions must be non-empty and 2 MiB aligned";
    return "";
}

// ---- blocks: every order in range once (each_order), then geometric draws
std::vector<uint8_t> draw_orders(const Options& o, Rng& rnd) {
    std::vector<uint8_t> orders;
    if (o.each_order)
        for (unsigned k = o.min_order; k <= o.max_order && orders.size() < o.blocks; ++k) orders.push_back(uint8_t(k));
    while (orders.size() < o.blocks) {
        unsigned k = o.min_order + unsigned(__builtin_ctzll(rnd.next() | (1ull << 63)));
        orders.push_back(uint8_t(std::min(k, o.max_order)));
    }
    return orders;
}

// Lowest free naturally aligned slot for `size` bytes at or above the
// arena's cursor; false if the arena is full.
bool next_slot(const Busy& busy, const Range& arena, uint64_t cursor, uint64_t size, uint64_t* out) {
    uint64_t pos = align_up(cursor, size);
    while (pos + size <= arena.end) {
        const Range* h = busy.hit(pos, pos + size);
        if (!h) break;
        pos = align_up(h->end, size);
    }
    *out = pos;
    return pos + size <= arena.end && pos >= cursor;
}

// ---- the blocks not at an edge: alternating arenas (so both sides of
// 4 GiB get blocks), bottom-up, in runs of adjacent blocks separated by
// small gaps
std::string place_blocks(const Options& o, const Busy& busy, const std::vector<uint8_t>& orders, Rng& rnd,
                         std::vector<uint64_t>* at) {
    std::vector<uint64_t> cursor;
    for (const auto& ar : o.arenas) cursor.push_back(ar.start);
    std::vector<size_t> sequence;
    for (size_t i = 0; i < orders.size(); ++i)
        if (!(*at)[i]) sequence.push_back(i);
    if (o.by_order)
        std::stable_sort(sequence.begin(), sequence.end(), [&](size_t a, size_t b) { return orders[a] > orders[b]; });
    size_t turn = 0;
    for (size_t i : sequence) {
        uint64_t size = kPage << orders[i];
        bool placed = false;
        for (size_t k = 0; k < o.arenas.size() && !placed; ++k) {
            size_t ai = (turn + k) % o.arenas.size();
            uint64_t pos;
            if (!next_slot(busy, o.arenas[ai], cursor[ai], size, &pos)) continue;
            (*at)[i] = pos;
            cursor[ai] = pos + size;
            if (o.cluster && rnd.next() % o.cluster == 0) cursor[ai] += kPage * (1 + rnd.next() % 16);
            placed = true;
        }
        if (!placed) return "arenas full: block " + std::to_string(i) + " of order " + std::to_string(orders[i]);
        ++turn;
    }
    return "";
}

// What the builder made, as the State the output writer and tests read.
void collect(const tk::state::Builder<SynthEnv>& b, SynthEnv& env, State* s) {
    s->fdt = b.fdt();
    s->map_root = b.map_root();
    s->manifest = b.manifest();
    s->manifest_size = b.manifest_size();
    s->blob = b.blob();
    s->blob_size = b.blob_size();
    s->entries.assign(b.entries(), b.entries() + b.entry_count());
    for (const auto& e : s->entries) s->map_blocks.push_back({e.phys, e.order, "data"});
    for (size_t i = 0; i < b.own_count(); ++i)
        s->map_blocks.push_back({b.own()[i].phys, b.own()[i].order, b.own()[i].fdt ? "fdt" : "manifest"});
    std::sort(s->map_blocks.begin(), s->map_blocks.end(),
              [](const State::MapBlock& x, const State::MapBlock& y) { return x.phys < y.phys; });
    s->table_pages = b.table_pages();
    s->leaf_pages = b.leaf_pages();
    s->written_bytes = b.written_bytes();
    env.copy_pages(s);
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

// ---- the state: edge blocks, the rest, then the builder's metadata
std::string build_state(const Options& o, State* s) {
    *s = State{};
    s->format = o.format;
    s->scratch = o.scratch;
    if (std::string err = check_options(o); !err.empty()) return err;

    // Metadata area: the start of the first arena (at least 4 MiB, enough
    // for any manifest and map the block count allows).
    const Range& a0 = o.arenas[0];
    uint64_t manifest_bytes = mf::total_size(o.blocks, 0);
    uint64_t meta_size = align_up(std::max<uint64_t>(4ull << 20, manifest_bytes * 2 + (8ull << 20)), 2ull << 20);
    if (a0.start + meta_size > a0.end) return "first arena too small for the metadata area";
    Busy busy;
    busy.add(a0.start, a0.start + meta_size);
    for (const auto& sc : o.scratch) busy.add(sc.addr, sc.addr + sc.size);
    SynthEnv env{o, busy, a0.start, a0.start, a0.start + meta_size, std::vector<uint8_t>(meta_size, 0)};
    if (o.format == Format::Multikernel) return build_multikernel(o, s, env);

    tk::state::Format fmt;
    if (!tk::state::find_format(format_name(o.format), &fmt)) return "no state builder for this format";
    tk::state::Config cfg{fmt, 0, o.seed, o.full_max_order, o.scratch.data(), uint32_t(o.scratch.size())};
    tk::state::Builder<SynthEnv> b(env, cfg);
    Rng rnd{pat::mix64(o.seed)};
    std::vector<uint8_t> orders = draw_orders(o, rnd);
    std::vector<uint64_t> at(orders.size(), 0);
    if (o.edge_blocks) b.place_edge_blocks(orders.data(), orders.size(), UINT32_MAX, at.data());
    if (std::string err = place_blocks(o, busy, orders, rnd, &at); !err.empty()) return err;

    const char* err = b.reserve(orders.size(), 0);
    for (size_t i = 0; !err && i < orders.size(); ++i) err = b.add_block(i, at[i], orders[i]);
    if (!err) err = b.finish();
    if (err) return std::string("metadata: ") + err;
    collect(b, env, s);
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
