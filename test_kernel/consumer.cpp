#include "consumer.h"

#include "../abi/kho_fdt.h"
#include "../abi/multikernel.h"
#include "../loader/crc32.h"
#include "../loader/format.h"
#include "consumer_checks.h"
#include "fdt_view.h"
#include "kho_map_reader.h"
#include "paging.h"
#include "report.h"
#include "serial.h"
#include "shared/block_pattern.h"

namespace tk {

using namespace kho::abi;
using namespace kho::abi::x86;
namespace mf = manifest;

namespace {

using namespace checks;

constexpr size_t kMaxEntries = 1 << 20;
constexpr size_t kMaxMetadata = 1 << 16;

uint64_t g_seen[kMaxEntries / 64];
PageHashSet g_visited;
PageHashSet g_meta_seen;
uint64_t g_metadata[kMaxMetadata];

const char* format_name(uint32_t f) {
    switch (f) {
    case mf::kFormatV1Page: return "kho-v1(page bitmaps)";
    case mf::kFormatV1Bytes512: return "kho-v1(512-byte bitmaps)";
    case mf::kFormatV2: return "kho-v2";
    case mf::kFormatV3: return "kho-v3";
    case mf::kFormatV4: return "kho-v4";
    case mf::kFormatMultikernel: return "multikernel-v1";
    }
    return "unknown";
}

bool format_matches(uint32_t f, KhoVersion v) {
    switch (v) {
    case KhoVersion::V1: return f == mf::kFormatV1Page || f == mf::kFormatV1Bytes512;
    case KhoVersion::V2: return f == mf::kFormatV2;
    case KhoVersion::V3: return f == mf::kFormatV3;
    case KhoVersion::V4: return f == mf::kFormatV4;
    case KhoVersion::Multikernel1: return f == mf::kFormatMultikernel;
    }
    return false;
}

// ---------------------------------------------------------------- multikernel
void check_multikernel(Ctx& c) {
    const char* why = nullptr;
    FdtView inst;
    const uint8_t* dtb = nullptr;
    uint32_t len = 0;
    int node = c.fdt.subnode(FdtView::kRoot, multikernel::kNode);
    if (c.kd.scratch_addr != multikernel::kScratchAddr || c.kd.scratch_size != multikernel::kScratchSize)
        why = "scratch is not 0/0";
    else if (node < 0) why = "no /multikernel node";
    else if (!c.fdt.prop(node, multikernel::kPropDtbData, &dtb, &len)) why = "no dtb-data";
    else if (!inst.open(dtb, len, &why)) {
    } else if (!inst.prop_is_string(FdtView::kRoot, "compatible", "khoboot,test-instance")) why = "instance DTB compatible differs";
    check("multikernel", !why, "%s scratch=0x%lx/0x%lx dtb-data=%u bytes", why ? why : "instance DTB intact",
          (unsigned long)c.kd.scratch_addr, (unsigned long)c.kd.scratch_size, len);
    const Placement* p = c.placed.overlapping(c.kd.fdt_addr, c.kd.fdt_addr + kPage);
    check("preserved-ram", !p, "%s%s", p ? "FDT page overlaps " : "FDT page is RAM and clear of the loader's placements",
          p ? p->name : "");
}

// ---------------------------------------------------------------- manifest
bool locate_manifest(Ctx& c, const char** why, uint64_t* blob, uint64_t* blob_size) {
    int node = c.fdt.subnode(FdtView::kRoot, manifest::kSubnodeName);
    if (node < 0) return *why = "no khoboot-test sub-node in the root FDT", false;
    if (c.version == KhoVersion::V1) {
        uint64_t sub;
        if (!c.fdt.prop_u64_native(node, kPropSubFdtV1, &sub)) return *why = "khoboot-test has no 8-byte 'fdt'", false;
        if (sub % 8 || !c.bi.is_ram(sub, sub + 40)) return *why = "sub-FDT header not in RAM", false;
        const uint8_t* h = reinterpret_cast<const uint8_t*>(sub);
        uint64_t total = uint32_t(h[4]) << 24 | uint32_t(h[5]) << 16 | uint32_t(h[6]) << 8 | h[7];
        if (!c.bi.is_ram(sub, sub + total)) return *why = "sub-FDT not in RAM", false;
        FdtView sf;
        if (!sf.open(h, total, why)) return false;
        if (!sf.prop_is_string(FdtView::kRoot, "compatible", manifest::kSubFdtCompatible))
            return *why = "sub-FDT compatible differs", false;
        const uint8_t* v;
        uint32_t len;
        if (!sf.prop(FdtView::kRoot, manifest::kSubFdtProperty, &v, &len)) return *why = "sub-FDT has no 'manifest'", false;
        c.own[c.own_count++] = PhysRange{sub & ~(kPage - 1), (sub + total + kPage - 1) & ~(kPage - 1)};
        *blob = reinterpret_cast<uint64_t>(v);
        *blob_size = len;
        return true;
    }
    uint64_t p, size = 0;
    if (!c.fdt.prop_u64_native(node, kPropPreservedData, &p)) return *why = "khoboot-test has no 8-byte preserved-data", false;
    bool has_size = c.fdt.prop_u64_native(node, kPropBlobSize, &size);
    if (has_blob_size(c.version) && !has_size) return *why = "kho-v3+ sub-node without blob-size", false;
    if (!c.bi.is_ram(p, p + sizeof(mf::Header))) return *why = "manifest not in RAM", false;
    if (!has_size) size = reinterpret_cast<const mf::Header*>(p)->total_size;
    if (!c.bi.is_ram(p, p + size)) return *why = "manifest blob not in RAM", false;
    c.own[c.own_count++] = PhysRange{p & ~(kPage - 1), (p + size + kPage - 1) & ~(kPage - 1)};
    *blob = p;
    *blob_size = size;
    return true;
}

bool check_manifest(Ctx& c) {
    const char* why = nullptr;
    uint64_t blob = 0, blob_size = 0;
    if (locate_manifest(c, &why, &blob, &blob_size)) {
        const mf::Header* h = reinterpret_cast<const mf::Header*>(blob);
        mf::Header copy = *h;
        copy.header_crc32 = 0;
        if (blob_size < sizeof(mf::Header)) why = "blob smaller than the header";
        else if (h->magic != mf::kMagic || h->version != mf::kVersion || h->header_size != sizeof(mf::Header)) why = "bad magic/version";
        else if (kho::crc32(&copy, sizeof(copy)) != h->header_crc32) why = "header CRC mismatch";
        else if (h->entry_count > kMaxEntries || h->retired_count > kMaxEntries) why = "too many records";
        else if (h->total_size != mf::total_size(h->entry_count, h->retired_count) || h->total_size > blob_size) why = "sizes disagree";
        else if (kho::crc32(h + 1, h->total_size - sizeof(mf::Header)) != h->body_crc32) why = "body CRC mismatch";
        else if (h->root_fdt != c.kd.fdt_addr) why = "manifest belongs to another root FDT";
        else if (!format_matches(h->format, c.version)) why = "manifest format does not match the compatible";
        else if (h->scratch_count > manifest::kMaxScratch) why = "scratch_count too big";
        if (!why) {
            c.mh = h;
            c.entries = reinterpret_cast<const mf::Entry*>(h + 1);
            c.retired = reinterpret_cast<const mf::Retired*>(c.entries + h->entry_count);
            for (uint64_t i = 0; !why && i < h->entry_count; ++i) {
                const mf::Entry& e = c.entries[i];
                if (e.order > 40 || e.phys % (kPage << e.order)) why = "entry not naturally aligned";
                else if (i && c.entries[i - 1].phys + (kPage << c.entries[i - 1].order) > e.phys) why = "entries not sorted and disjoint";
            }
            for (uint64_t i = 1; !why && i < h->retired_count; ++i)
                if (c.retired[i - 1].phys >= c.retired[i].phys) why = "retired records not sorted";
        }
    }
    const mf::Header* h = c.mh;
    return check("manifest", !why, "%s addr=0x%lx hop=%u format=%s entries=%lu retired=%lu",
                 why ? why : "valid", (unsigned long)blob, h ? h->hop : 0,
                 h ? format_name(h->format) : "?", (unsigned long)(h ? h->entry_count : 0),
                 (unsigned long)(h ? h->retired_count : 0));
}

void check_scratch_matches(Ctx& c) {
    bool same = c.mh->scratch_count == c.scratch_count;
    for (uint32_t i = 0; same && i < c.scratch_count; ++i)
        same = c.mh->scratch[i].addr == c.scratch[i].addr && c.mh->scratch[i].size == c.scratch[i].size;
    check("scratch", same, "%s (%u regions passed, %u produced; first 0x%lx+0x%lx)",
          same ? "the table passed is the one produced" : "table differs from the producer's",
          c.scratch_count, c.mh->scratch_count, (unsigned long)c.scratch[0].addr,
          (unsigned long)c.scratch[0].size);
}

// ---------------------------------------------------------------- map
size_t lower_bound_entry(const mf::Entry* e, size_t n, uint64_t phys) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (e[mid].phys < phys) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

// Compares the decoded map with the manifest, block by block.
struct MapCompare {
    Ctx& c;
    uint64_t matched = 0, own_bytes = 0, unknown = 0, wrong_order = 0, duplicate = 0, retired_hits = 0;
    char first[120] = {};

    void note(const char* what, uint64_t phys, unsigned order) {
        if (!first[0]) kho::format(first, sizeof(first), "%s 0x%lx order %u", what, (unsigned long)phys, order);
    }
    bool block(uint64_t phys, unsigned order) {
        uint64_t size = kPage << order;
        size_t n = c.mh->entry_count;
        size_t i = lower_bound_entry(c.entries, n, phys);
        if (i < n && c.entries[i].phys == phys) {
            if (c.entries[i].order != order) {
                ++wrong_order;
                note("order differs at", phys, order);
            } else if (g_seen[i / 64] & (1ull << (i % 64))) {
                ++duplicate;
                note("listed twice:", phys, order);
            } else {
                g_seen[i / 64] |= 1ull << (i % 64);
                ++matched;
            }
        } else {
            bool own = false;
            for (size_t k = 0; k < c.own_count; ++k)
                if (c.own[k].contains(phys, phys + size)) own = true;
            if (own) own_bytes += size;
            else {
                ++unknown;
                note("not in the manifest:", phys, order);
            }
        }
        size_t lo = 0, hi = c.mh->retired_count;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (c.retired[mid].phys < phys) lo = mid + 1;
            else hi = mid;
        }
        if (lo < c.mh->retired_count && c.retired[lo].phys == phys && c.retired[lo].order == order) {
            ++retired_hits;
            note("retired block still preserved:", phys, order);
        }
        return true;
    }
    bool metadata(uint64_t page) {
        if (g_meta_seen.insert(page) == PageHashSet::Result::Added) {
            if (c.metadata_count < kMaxMetadata) g_metadata[c.metadata_count++] = page;
            else c.metadata_overflow = true;
        }
        return true;
    }
};

bool check_map(Ctx& c) {
    uint64_t map;
    if (!c.fdt.prop_u64_native(FdtView::kRoot, kPropPreservedMemoryMap, &map))
        return check("map", false, "no 8-byte preserved-memory-map");
    for (size_t i = 0; i < (c.mh->entry_count + 63) / 64; ++i) g_seen[i] = 0;
    g_visited.clear();
    g_meta_seen.clear();
    MapReader reader(c.bi, g_visited);
    MapCompare cmp{c};
    MapReadStats st;
    MapError err{};
    bool ok;
    if (c.version == KhoVersion::V1) {
        auto layout = c.mh->format == mf::kFormatV1Bytes512 ? v1::BitmapLayout::Bytes512 : v1::BitmapLayout::Page;
        ok = reader.read_v1(map, layout, cmp, &st, &err);
    } else {
        ok = reader.read_radix(map, cmp, &st, &err);
    }
    if (!ok) return check("map", false, "decode failed: %s", err.text);
    // The producer preserves its own structures like any KHO user's data
    // (Linux 6.19+ preserves the root FDT page; sub-blobs are folios).
    uint64_t own_total = 0;
    for (size_t k = 0; k < c.own_count; ++k) own_total += c.own[k].end - c.own[k].start;
    uint64_t missing = c.mh->entry_count - cmp.matched;
    bool good = !missing && !cmp.unknown && !cmp.wrong_order && !cmp.duplicate && !cmp.retired_hits &&
                cmp.own_bytes == own_total && !c.metadata_overflow;
    return check("map", good,
                 "%s blocks=%lu matched=%lu missing=%lu unknown=%lu order-mismatch=%lu twice=%lu "
                 "retired-present=%lu own-bytes=0x%lx/0x%lx tables=%lu leaves=%lu metadata-pages=%lu %s",
                 good ? "map lists exactly the manifest" : "map differs from the manifest",
                 (unsigned long)st.blocks, (unsigned long)cmp.matched, (unsigned long)missing,
                 (unsigned long)cmp.unknown, (unsigned long)cmp.wrong_order, (unsigned long)cmp.duplicate,
                 (unsigned long)cmp.retired_hits, (unsigned long)cmp.own_bytes, (unsigned long)own_total,
                 (unsigned long)st.tables, (unsigned long)st.leaves, (unsigned long)c.metadata_count,
                 cmp.first);
}

// ---------------------------------------------------------------- RAM / overlap
bool overlaps_entry(const Ctx& c, uint64_t start, uint64_t end) {
    size_t n = c.mh->entry_count;
    size_t i = lower_bound_entry(c.entries, n, start);
    if (i < n && c.entries[i].phys < end) return true;
    if (i > 0 && c.entries[i - 1].phys + (kPage << c.entries[i - 1].order) > start) return true;
    return false;
}

void check_preserved_ram(Ctx& c) {
    uint64_t bad = 0, bad_addr = 0;
    const char* what = nullptr;
    auto note = [&](uint64_t a, const char* w) {
        if (!bad++) bad_addr = a, what = w;
    };
    for (uint64_t i = 0; i < c.mh->entry_count; ++i) {
        const mf::Entry& e = c.entries[i];
        if (const char* w = range_problem(c, e.phys, e.phys + (kPage << e.order))) note(e.phys, w);
    }
    for (size_t k = 0; k < c.own_count; ++k)
        if (const char* w = range_problem(c, c.own[k].start, c.own[k].end)) note(c.own[k].start, w);
    for (size_t k = 0; k < c.metadata_count; ++k) {
        uint64_t p = g_metadata[k];
        if (const char* w = range_problem(c, p, p + kPage)) note(p, w);
        else if (overlaps_entry(c, p, p + kPage)) note(p, "a preserved block");
        for (size_t o = 0; o < c.own_count; ++o)
            if (c.own[o].overlaps(p, p + kPage)) note(p, "the root FDT or manifest");
    }
    check("preserved-ram", bad == 0,
          "%s blocks=%lu metadata=%lu loader-placements=%lu%s%s at 0x%lx",
          bad ? "overlap or not RAM:" : "all RAM, clear of scratch and of the loader's placements",
          (unsigned long)c.mh->entry_count, (unsigned long)c.metadata_count,
          (unsigned long)c.placed.count, bad ? " " : "", bad ? what : "", (unsigned long)bad_addr);
}

// ---------------------------------------------------------------- contents
void check_contents(Ctx& c) {
    uint64_t bad_blocks = 0, bytes = 0, first_addr = 0, got = 0, want = 0, digest_bad = 0;
    for (uint64_t i = 0; i < c.mh->entry_count; ++i) {
        const mf::Entry& e = c.entries[i];
        pattern::Extents x = pattern::extents(e.phys, e.order, e.fill);
        pattern::Digest d;
        bool block_bad = false;
        for (unsigned k = 0; k < x.count; ++k) {
            const uint64_t* w = reinterpret_cast<const uint64_t*>(x.start[k]);
            for (uint64_t j = 0; j < x.len[k] / 8; ++j) {
                uint64_t expect = pattern::word_at(e.seed, x.start[k] + 8 * j);
                uint64_t v = w[j];
                d.add(v);
                if (v != expect && !block_bad) {
                    block_bad = true;
                    if (!bad_blocks) first_addr = x.start[k] + 8 * j, got = v, want = expect;
                }
            }
            bytes += x.len[k];
        }
        if (d.h != e.digest) ++digest_bad;
        if (block_bad) ++bad_blocks;
    }
    check("contents", !bad_blocks && !digest_bad,
          "%s blocks=%lu bytes=0x%lx corrupt=%lu digest-mismatch=%lu first=0x%lx got=0x%lx want=0x%lx",
          bad_blocks || digest_bad ? "preserved bytes changed" : "every block holds the producer's bytes",
          (unsigned long)c.mh->entry_count, (unsigned long)bytes, (unsigned long)bad_blocks,
          (unsigned long)digest_bad, (unsigned long)first_addr, (unsigned long)got, (unsigned long)want);
}

}  // namespace

void consume(const BootInfo& bi, const Options& o, ConsumeKind kind, const EfiRuntime* rt,
             ConsumedState* out) {
    *out = ConsumedState{};
    Ctx c{bi, o};
    check_boot_params(bi, o);
    check_cmdline(bi, o);
    check_initrd(bi, o);
    check_descriptor_consumed(o, rt);

    size_t nodes = check_setup_data(c, kind == ConsumeKind::Cold ? 0 : 1);
    if (kind == ConsumeKind::Cold || nodes != 1) return;

    collect_placements(bi, c.kd.scratch_addr, c.kd.scratch_size, &c.placed);
    const char* expect = kind == ConsumeKind::Multikernel ? kCompatMultikernel1 : o.expect_compat;
    if (!check_fdt(c, expect)) return;
    if (kind == ConsumeKind::Multikernel) {
        check_multikernel(c);
        return;
    }
    if (!version_from(expect, &c.version) || c.version == KhoVersion::Multikernel1) {
        check("fdt", false, "tk.compat=%s is not a KHO version", expect);
        return;
    }
    c.own[c.own_count++] = PhysRange{c.kd.fdt_addr, c.kd.fdt_addr + kPage};
    if (!check_scratch_table(c)) return;
    check_placement(c);
    if (!check_manifest(c)) return;
    check_scratch_matches(c);
    bool map_ok = check_map(c);
    check_preserved_ram(c);
    check_contents(c);
    if (!map_ok || any_check_failed()) return;

    out->valid = true;
    out->fdt_addr = c.kd.fdt_addr;
    out->scratch_table = c.kd.scratch_addr;
    out->scratch_table_size = c.kd.scratch_size;
    out->scratch_count = c.scratch_count;
    for (uint32_t i = 0; i < c.scratch_count; ++i) out->scratch[i] = c.scratch[i];
    out->header = c.mh;
    out->entries = c.entries;
    out->hop = c.mh->hop;
    out->own_count = c.own_count;
    for (size_t k = 0; k < c.own_count; ++k) out->own[k] = c.own[k];
    out->metadata = g_metadata;
    out->metadata_count = c.metadata_count;
}

}  // namespace tk
