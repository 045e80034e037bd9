#include "producer.h"

#include "../abi/handover_descriptor.h"
#include "../abi/kho_fdt.h"
#include "../abi/kho_radix.h"
#include "../abi/kho_v1.h"
#include "../loader/crc32.h"
#include "busy_ranges.h"
#include "heap_sort.h"
#include "paging.h"
#include "qemu_exit.h"
#include "report.h"
#include "serial.h"
#include "shared/block_pattern.h"
#include "shared/fdt_writer.h"
#include "shared/radix_encoder.h"
#include "shared/test_manifest.h"
#include "shared/v1_encoder.h"

namespace tk {

using namespace kho::abi;
namespace mf = manifest;

namespace {

constexpr uint64_t kPage = 4096;
constexpr unsigned kMaxOwnBlocks = 128;

BusyRanges g_busy;
constexpr uint32_t kMaxNewBlocks = 65536;
uint64_t g_new_at[kMaxNewBlocks];
uint8_t g_new_order[kMaxNewBlocks];

struct Format {
    KhoVersion version;
    uint32_t manifest_format;
    const char* compatible;
};

bool streq(const char* a, const char* b) {
    while (*a && *a == *b) ++a, ++b;
    return *a == *b;
}

bool parse_format(const char* s, Format* f) {
    if (streq(s, "kho-v4")) *f = {KhoVersion::V4, mf::kFormatV4, kCompatV4};
    else if (streq(s, "kho-v3")) *f = {KhoVersion::V3, mf::kFormatV3, kCompatV3};
    else if (streq(s, "kho-v2")) *f = {KhoVersion::V2, mf::kFormatV2, kCompatV2};
    else if (streq(s, "kho-v1")) *f = {KhoVersion::V1, mf::kFormatV1Page, kCompatV1};
    else if (streq(s, "kho-v1-512")) *f = {KhoVersion::V1, mf::kFormatV1Bytes512, kCompatV1};
    else return false;
    return true;
}

// Allowed windows: the arenas the command line allows, clipped to RAM.
struct Windows {
    size_t count = 0;
    PhysRange w[Options::kMaxArenas];
};

// Pages for the map encoders, zeroed, from the windows.
struct ProducerMem {
    const Windows& win;
    uint64_t pages = 0;
    uint64_t alloc_page() {
        for (size_t i = 0; i < win.count; ++i) {
            uint64_t a = g_busy.allocate(win.w[i], kPage, kPage);
            if (a) {
                uint64_t* p = reinterpret_cast<uint64_t*>(a);
                for (size_t k = 0; k < kPage / 8; ++k) p[k] = 0;
                ++pages;
                return a;
            }
        }
        return 0;
    }
    uint64_t* page(uint64_t phys) { return reinterpret_cast<uint64_t*>(phys); }
};

// Marks everything that is not e820 RAM busy, so that allocation only
// needs the busy list.
void mark_non_ram(const BootInfo& bi) {
    struct R {
        uint64_t s, e;
    } ram[kho::abi::x86::kE820MaxZeroPage];
    size_t n = 0;
    for (uint32_t i = 0; i < bi.e820_count; ++i)
        if (bi.e820[i].type == x86::kE820Ram) ram[n++] = R{bi.e820[i].addr, bi.e820[i].addr + bi.e820[i].size};
    heap_sort(ram, n, [](const R& a, const R& b) { return a.s < b.s; });
    uint64_t pos = 0;
    for (size_t i = 0; i < n; ++i) {
        if (ram[i].s > pos) g_busy.add(pos, ram[i].s);
        if (ram[i].e > pos) pos = ram[i].e;
    }
    g_busy.add(pos, kIdentityLimit);
    g_busy.add(0, 1 << 20);  // real-mode area: Linux reserves it anyway (docs/kho-abi.md 7.3)
}

// Splits [start, end) into naturally aligned power-of-two blocks the way
// kho_preserve_pages() does: min(ctz(pfn), ilog2(remaining pages)).
size_t split_blocks(uint64_t start, uint64_t end, mf::Entry* out, size_t cap) {
    size_t n = 0;
    for (uint64_t p = start; p < end && n < cap;) {
        uint64_t pfn = p / kPage, left = (end - p) / kPage;
        unsigned a = pfn ? unsigned(__builtin_ctzll(pfn)) : 63;
        unsigned b = 63 - unsigned(__builtin_clzll(left));
        unsigned order = a < b ? a : b;
        out[n++] = mf::Entry{p, uint8_t(order), 0, 0, 0, 0, 0};
        p += kPage << order;
    }
    return n;
}

template <class Enc>
bool encode_v1(Enc& enc, const mf::Entry* e, size_t n, const mf::Entry* own, size_t own_n) {
    // Orders ascending, addresses ascending within an order (the kernel's
    // xarray walk order); own blocks merged in.
    for (unsigned order = 0; order <= 40; ++order) {
        size_t i = 0, j = 0;
        for (;;) {
            while (i < n && e[i].order != order) ++i;
            while (j < own_n && own[j].order != order) ++j;
            if (i == n && j == own_n) break;
            if (j == own_n || (i < n && e[i].phys < own[j].phys)) {
                if (!enc.add(e[i].phys, order)) return false;
                ++i;
            } else {
                if (!enc.add(own[j].phys, order)) return false;
                ++j;
            }
        }
    }
    return true;
}

void put_u16_name(char16_t* dst, const char* src) {
    size_t i = 0;
    for (; src[i]; ++i) dst[i] = char16_t(src[i]);
    dst[i] = 0;
}

}  // namespace

void produce(const BootInfo& bi, const Options& o, const ConsumedState& prev, const EfiRuntime& rt,
             uint32_t hop, bool power_off) {
    Format fmt;
    if (!parse_format(o.produce_format, &fmt)) fail_now("produce: unknown tk.format=%s", o.produce_format);
    if (!rt.ready()) fail_now("produce: no UEFI runtime services to write the descriptor");

    // ---- what must stay untouched
    g_busy.clear();
    mark_non_ram(bi);
    Placements placed;
    collect_placements(bi, prev.scratch_table, prev.scratch_table_size, &placed);
    for (size_t i = 0; i < placed.count; ++i) g_busy.add(placed.p[i].start, placed.p[i].end);
    uint64_t prev_count = prev.valid ? prev.header->entry_count : 0;
    if (prev.valid) {
        for (uint64_t i = 0; i < prev_count; ++i)
            g_busy.add(prev.entries[i].phys, prev.entries[i].phys + (kPage << prev.entries[i].order));
        for (size_t k = 0; k < prev.own_count; ++k) g_busy.add(prev.own[k].start, prev.own[k].end);
        for (size_t k = 0; k < prev.metadata_count; ++k) g_busy.add(prev.metadata[k], prev.metadata[k] + kPage);
    }

    Windows win;
    for (size_t i = 0; i < o.arena_count; ++i) {
        PhysRange a = o.arenas[i];
        uint64_t top = bi.ram_top() < kIdentityLimit ? bi.ram_top() : kIdentityLimit;
        if (a.end > top) a.end = top;
        if (a.end > a.start) win.w[win.count++] = a;
    }
    if (!win.count) fail_now("produce: no RAM inside tk.arena");

    // ---- scratch: inherited (Linux keeps using the array it was given) or new
    uint32_t scratch_count = 0;
    KhoScratch scratch[mf::kMaxScratch];
    if (prev.valid) {
        scratch_count = prev.scratch_count;
        for (uint32_t i = 0; i < scratch_count; ++i) scratch[i] = prev.scratch[i];
    } else {
        // One region per window (lowmem first), 2 MiB aligned like
        // CMA_MIN_ALIGNMENT_BYTES (docs/kho-abi.md 7.2).
        // 16 MiB into each window, so that blocks can sit below it too.
        for (size_t i = 0; i < win.count && scratch_count < 2; ++i) {
            PhysRange inner{win.w[i].start + (16ull << 20), win.w[i].end};
            uint64_t a = inner.end > inner.start ? g_busy.allocate(inner, o.scratch_bytes, kScratchAlignment) : 0;
            if (a) scratch[scratch_count++] = KhoScratch{a, o.scratch_bytes};
        }
        if (!scratch_count) fail_now("produce: no room for a scratch region");
    }
    for (uint32_t i = 0; i < scratch_count; ++i) g_busy.add(scratch[i].addr, scratch[i].addr + scratch[i].size);

    // ---- which inherited blocks go
    uint64_t drop = 0;
    if (prev.valid) {
        drop = o.free_count < 0 ? prev_count / 4 : uint64_t(o.free_count);
        if (drop > prev_count) drop = prev_count;
    }
    uint64_t stride = drop ? prev_count / drop : 0;
    auto dropped = [&](uint64_t i) { return drop && i % stride == stride - 1 && i / stride < drop; };
    uint64_t kept = prev_count - drop;
    uint64_t total = kept + o.blocks;

    // ---- new blocks: mixed orders, both sides of 4 GiB, the first four
    // touching scratch edges (claimed before anything else can take them)
    uint64_t new_bytes = 0, edge_blocks = 0, high_blocks = 0;
    if (o.blocks > kMaxNewBlocks) fail_now("produce: tk.blocks above %u", kMaxNewBlocks);
    for (uint32_t i = 0; i < o.blocks; ++i) {
        uint64_t rnd = pattern::mix64(pattern::block_seed(o.seed, hop, i) ^ 0xa5a5a5a5a5a5a5a5ull);
        unsigned order = unsigned(__builtin_ctzll(rnd | (1ull << 63)));
        g_new_order[i] = uint8_t(order > o.max_order ? o.max_order : order);
        g_new_at[i] = 0;
        uint64_t size = kPage << g_new_order[i];
        if (i < 4 && g_new_order[i] <= 9) {
            const KhoScratch& s = scratch[(i / 2) % scratch_count];
            uint64_t want = i % 2 == 0 ? s.addr - size : s.addr + s.size;
            bool inside = false;
            for (size_t k = 0; k < win.count; ++k) inside = inside || win.w[k].contains(want, want + size);
            if (s.addr >= size && inside && g_busy.claim(want, size)) {
                g_new_at[i] = want;
                ++edge_blocks;
            }
        }
    }

    // ---- the manifest blob (sizes are known now) and the root FDT page
    uint64_t mf_size = mf::total_size(total, drop);
    uint64_t blob_size = fmt.version == KhoVersion::V1 ? mf_size + 512 : mf_size;
    uint64_t blob_pages = (blob_size + kPage - 1) / kPage;
    uint64_t blob = 0;
    for (size_t i = 0; i < win.count && !blob; ++i) blob = g_busy.allocate(win.w[i], blob_pages * kPage, kPage);
    uint64_t fdt_page = 0;
    for (size_t i = 0; i < win.count && !fdt_page; ++i) fdt_page = g_busy.allocate(win.w[i], kPage, kPage);
    if (!blob || !fdt_page) fail_now("produce: no room for the manifest (%lu bytes) or FDT", (unsigned long)blob_size);
    for (uint64_t k = 0; k < blob_pages * kPage / 8; ++k) reinterpret_cast<uint64_t*>(blob)[k] = 0;

    fdt::Writer sub(reinterpret_cast<uint8_t*>(blob), blob_pages * kPage);
    uint8_t* mf_bytes;
    if (fmt.version == KhoVersion::V1) {
        // kho-v1 sub-nodes point at sub-FDTs ("fdt" property): wrap it.
        sub.begin_node("");
        sub.prop_string("compatible", mf::kSubFdtCompatible);
        mf_bytes = sub.prop_aligned8(mf::kSubFdtProperty, nullptr, uint32_t(mf_size));
        sub.end_node();
        if (!mf_bytes || !sub.finish()) fail_now("produce: manifest sub-FDT does not fit");
    } else {
        mf_bytes = reinterpret_cast<uint8_t*>(blob);
    }
    auto* mh = reinterpret_cast<mf::Header*>(mf_bytes);
    auto* entries = reinterpret_cast<mf::Entry*>(mh + 1);
    auto* retired = reinterpret_cast<mf::Retired*>(entries + total);

    // ---- kept and retired blocks
    uint64_t n = 0, r = 0;
    for (uint64_t i = 0; i < prev_count; ++i) {
        if (dropped(i)) retired[r++] = mf::Retired{prev.entries[i].phys, prev.entries[i].order};
        else entries[n++] = prev.entries[i];
    }

    for (uint32_t i = 0; i < o.blocks; ++i) {
        uint64_t seed = pattern::block_seed(o.seed, hop, i);
        unsigned order = g_new_order[i];
        uint64_t size = kPage << order;
        uint64_t at = g_new_at[i];
        for (size_t k = 0; !at && k < win.count; ++k) at = g_busy.allocate(win.w[(i + k) % win.count], size, size);
        if (!at) fail_now("produce: no room for block %u (order %u)", i, order);
        if (at >= 1ull << 32) ++high_blocks;
        uint8_t fill = order <= o.full_order ? mf::kFillFull : mf::kFillEdges;
        pattern::Extents x = pattern::extents(at, order, fill);
        pattern::Digest d;
        for (unsigned k = 0; k < x.count; ++k) {
            pattern::fill(reinterpret_cast<uint64_t*>(x.start[k]), x.start[k], x.len[k], seed, &d);
            new_bytes += x.len[k];
        }
        entries[n++] = mf::Entry{at, uint8_t(order), fill, uint16_t(hop), 0, seed, d.h};
    }
    heap_sort(entries, n, [](const mf::Entry& a, const mf::Entry& b) { return a.phys < b.phys; });

    // ---- the map: every block, plus the FDT page and the manifest pages
    mf::Entry own[kMaxOwnBlocks];
    size_t own_n = split_blocks(fdt_page, fdt_page + kPage, own, kMaxOwnBlocks);
    own_n += split_blocks(blob, blob + blob_pages * kPage, own + own_n, kMaxOwnBlocks - own_n);
    heap_sort(own, own_n, [](const mf::Entry& a, const mf::Entry& b) { return a.phys < b.phys; });
    ProducerMem mem{win};
    uint64_t map_root = 0, tables = 0, leaves = 0;
    if (fmt.version == KhoVersion::V1) {
        V1Encoder<ProducerMem> enc(mem, fmt.manifest_format == mf::kFormatV1Bytes512
                                            ? v1::BitmapLayout::Bytes512 : v1::BitmapLayout::Page);
        if (!encode_v1(enc, entries, n, own, own_n)) fail_now("produce: kho-v1 map encoding ran out of room");
        map_root = enc.first_chunk();
        tables = enc.chunk_pages();
        leaves = enc.bitmaps();
    } else {
        RadixEncoder<ProducerMem> enc(mem, radix::kGeometry4K);
        bool ok = enc.init();
        for (uint64_t i = 0; ok && i < n; ++i) ok = enc.add(entries[i].phys, entries[i].order);
        for (size_t i = 0; ok && i < own_n; ++i) ok = enc.add(own[i].phys, own[i].order);
        if (!ok) fail_now("produce: radix map encoding ran out of room");
        map_root = enc.root();
        tables = enc.table_pages();
        leaves = enc.leaf_pages();
    }

    // ---- root FDT (one page, docs/kho-abi.md 3.1)
    auto* fdt_bytes = reinterpret_cast<uint8_t*>(fdt_page);
    fdt::Writer w(fdt_bytes, kPage);
    w.begin_node("");
    w.prop_string("compatible", fmt.compatible);
    w.prop_u64_native(kPropPreservedMemoryMap, map_root);
    w.begin_node(mf::kSubnodeName);
    if (fmt.version == KhoVersion::V1) {
        w.prop_u64_native(kPropSubFdtV1, blob);
    } else {
        w.prop_u64_native(kPropPreservedData, blob);
        if (has_blob_size(fmt.version)) w.prop_u64_native(kPropBlobSize, mf_size);
    }
    w.end_node();
    w.end_node();
    if (!w.finish()) fail_now("produce: root FDT does not fit a page");

    // ---- manifest header last: it covers everything above
    *mh = mf::Header{};
    mh->magic = mf::kMagic;
    mh->version = mf::kVersion;
    mh->header_size = sizeof(mf::Header);
    mh->total_size = mf_size;
    mh->hop = hop;
    mh->format = fmt.manifest_format;
    mh->entry_count = n;
    mh->retired_count = r;
    mh->root_fdt = fdt_page;
    mh->seed = o.seed;
    mh->scratch_count = scratch_count;
    for (uint32_t i = 0; i < scratch_count; ++i) mh->scratch[i] = scratch[i];
    mh->body_crc32 = kho::crc32(entries, mf_size - sizeof(mf::Header));
    mh->header_crc32 = 0;
    mh->header_crc32 = kho::crc32(mh, sizeof(mf::Header));

    println("TEST_KERNEL: produce state hop=%u format=%s blocks=%lu kept=%lu new=%u retired=%lu "
            "written=0x%lx edge=%lu above-4g=%lu fdt=0x%lx map=0x%lx manifest=0x%lx tables=%lu leaves=%lu",
            hop, o.produce_format, (unsigned long)n, (unsigned long)kept, o.blocks, (unsigned long)r,
            (unsigned long)new_bytes, (unsigned long)edge_blocks, (unsigned long)high_blocks,
            (unsigned long)fdt_page, (unsigned long)map_root, (unsigned long)blob,
            (unsigned long)tables, (unsigned long)leaves);
    for (uint32_t i = 0; i < scratch_count; ++i)
        println("TEST_KERNEL: produce scratch %u 0x%lx-0x%lx", i, (unsigned long)scratch[i].addr,
                (unsigned long)(scratch[i].addr + scratch[i].size));

    // ---- the handover descriptor (abi/handover_descriptor.h), written here
    // from the ABI rather than with the loader's builder
    namespace d = descriptor;
    uint8_t desc[d::kMaxSize] = {};
    d::Header dh{};
    dh.magic = d::kMagic;
    dh.version = d::kVersion;
    dh.header_size = sizeof(d::Header);
    dh.total_size = uint32_t(sizeof(d::Header) + scratch_count * sizeof(KhoScratch));
    dh.flags = d::kFlagFdtCrc;
    dh.scratch_count = scratch_count;
    dh.fdt_addr = fdt_page;
    dh.fdt_size = kRootFdtSize;
    dh.fdt_crc32 = kho::crc32(fdt_bytes, kPage);
    __builtin_memcpy(desc, &dh, sizeof(dh));
    __builtin_memcpy(desc + sizeof(dh), scratch, scratch_count * sizeof(KhoScratch));
    uint32_t sum = kho::crc32(desc, dh.total_size);  // checksum field is still 0
    __builtin_memcpy(desc + __builtin_offsetof(d::Header, checksum), &sum, 4);
    char16_t name[sizeof(d::kVariableName)];
    put_u16_name(name, d::kVariableName);
    EfiStatus s = rt.set_variable(name, d::kVendorGuid, kVarNonVolatile | kVarBootService | kVarRuntime,
                                  dh.total_size, desc);
    if (s != kEfiSuccess) fail_now("produce: SetVariable(KhoHandover) failed, status 0x%lx", (unsigned long)s);
    println("TEST_KERNEL: produce descriptor ok bytes=%u fdt=0x%lx fdt_crc32=0x%08x", dh.total_size,
            (unsigned long)fdt_page, dh.fdt_crc32);

    if (power_off) {
        println("TEST_KERNEL: produce power-off");
        println("TEST_KERNEL: result pass");
        qemu_exit(kExitPass);
    }
    println("TEST_KERNEL: produce reset warm");
    rt.reset_warm();
}

}  // namespace tk
