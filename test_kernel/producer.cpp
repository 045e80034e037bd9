#include "producer.h"

#include "../abi/handover_descriptor.h"
#include "../abi/kho_fdt.h"
#include "../loader/crc32.h"
#include "busy_ranges.h"
#include "heap_sort.h"
#include "libfdt_glue.h"
#include "paging.h"
#include "qemu_exit.h"
#include "report.h"
#include "serial.h"
#include "shared/block_pattern.h"
#include "shared/state_builder.h"
#include "shared/test_manifest.h"

namespace tk {

using namespace kho::abi;
namespace mf = manifest;
using state::kPage;

namespace {

BusyRanges g_busy;
constexpr uint32_t kMaxNewBlocks = 65536;
uint64_t g_new_at[kMaxNewBlocks];
uint8_t g_new_order[kMaxNewBlocks];

// Allowed windows: the arenas the command line allows, clipped to RAM.
struct Windows {
    size_t count = 0;
    PhysRange w[Options::kMaxArenas];
    bool contain(uint64_t at, uint64_t size) const {
        for (size_t k = 0; k < count; ++k)
            if (w[k].contains(at, at + size)) return true;
        return false;
    }
};

// The state builder's Env over identity-mapped guest RAM: first fit in the
// windows around everything busy.
struct ProducerEnv {
    const Windows& win;
    uint64_t alloc_meta(uint64_t bytes) {
        uint64_t size = (bytes + kPage - 1) & ~(kPage - 1);
        for (size_t i = 0; i < win.count; ++i) {
            uint64_t a = g_busy.allocate(win.w[i], size, kPage);
            if (a) {
                __builtin_memset(reinterpret_cast<void*>(a), 0, size);
                return a;
            }
        }
        return 0;
    }
    uint64_t alloc_page() { return alloc_meta(kPage); }
    uint64_t* page(uint64_t phys) { return reinterpret_cast<uint64_t*>(phys); }
    uint8_t* bytes(uint64_t phys, uint64_t) { return reinterpret_cast<uint8_t*>(phys); }
    bool claim(uint64_t at, uint64_t size) { return win.contain(at, size) && g_busy.claim(at, size); }
    uint64_t* block_words(uint64_t phys, uint64_t) { return reinterpret_cast<uint64_t*>(phys); }
};
using Builder = state::Builder<ProducerEnv>;

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
    g_busy.add(0, 1 << 20);  // real-mode area: Linux reserves it anyway (docs/kho-abi.md section 7.3)
}

// ---- what must stay untouched: non-RAM, the loader's placements and the
// inherited state (its blocks, FDT, manifest and map pages)
void mark_busy(const BootInfo& bi, const ConsumedState& prev) {
    g_busy.clear();
    mark_non_ram(bi);
    Placements placed;
    collect_placements(bi, prev.scratch_table, prev.scratch_table_size, &placed);
    for (size_t i = 0; i < placed.count; ++i) g_busy.add(placed.p[i].start, placed.p[i].end);
    if (!prev.valid) return;
    for (uint64_t i = 0; i < prev.header->entry_count; ++i)
        g_busy.add(prev.entries[i].phys, prev.entries[i].phys + (kPage << prev.entries[i].order));
    for (size_t k = 0; k < prev.own_count; ++k) g_busy.add(prev.own[k].start, prev.own[k].end);
    for (size_t k = 0; k < prev.metadata_count; ++k) g_busy.add(prev.metadata[k], prev.metadata[k] + kPage);
}

Windows allowed_windows(const BootInfo& bi, const Options& o) {
    Windows win;
    uint64_t top = bi.ram_top() < kIdentityLimit ? bi.ram_top() : kIdentityLimit;
    for (size_t i = 0; i < o.arena_count; ++i) {
        PhysRange a = o.arenas[i];
        if (a.end > top) a.end = top;
        if (a.end > a.start) win.w[win.count++] = a;
    }
    if (!win.count) fail_now("produce: no RAM inside tk.arena");
    return win;
}

// ---- scratch: inherited (Linux keeps using the array it was given) or new
uint32_t choose_scratch(const ConsumedState& prev, const Options& o, const Windows& win, KhoScratch* out) {
    uint32_t count = 0;
    if (prev.valid) {
        for (; count < prev.scratch_count; ++count) out[count] = prev.scratch[count];
    } else {
        // One region per window (lowmem first), 2 MiB aligned like
        // CMA_MIN_ALIGNMENT_BYTES (docs/kho-abi.md section 7.2), 16 MiB into each
        // window, so that blocks can sit below it too.
        for (size_t i = 0; i < win.count && count < 2; ++i) {
            PhysRange inner{win.w[i].start + (16ull << 20), win.w[i].end};
            uint64_t a = inner.end > inner.start ? g_busy.allocate(inner, o.scratch_bytes, kScratchAlignment) : 0;
            if (a) out[count++] = KhoScratch{a, o.scratch_bytes};
        }
        if (!count) fail_now("produce: no room for a scratch region");
    }
    for (uint32_t i = 0; i < count; ++i) g_busy.add(out[i].addr, out[i].addr + out[i].size);
    return count;
}

// ---- which inherited blocks go: `drop` of them, evenly spread
struct DropPlan {
    uint64_t count = 0, drop = 0, stride = 0;
    bool dropped(uint64_t i) const { return drop && i % stride == stride - 1 && i / stride < drop; }
};

DropPlan plan_drops(const ConsumedState& prev, const Options& o) {
    DropPlan p;
    if (!prev.valid) return p;
    p.count = prev.header->entry_count;
    p.drop = o.free_count < 0 ? p.count / 4 : uint64_t(o.free_count);
    if (p.drop > p.count) p.drop = p.count;
    p.stride = p.drop ? p.count / p.drop : 0;
    return p;
}

// ---- new blocks: mixed orders (geometric, capped at tk.max-order)
void draw_orders(const Options& o, uint32_t hop) {
    if (o.blocks > kMaxNewBlocks) fail_now("produce: tk.blocks above %u", kMaxNewBlocks);
    for (uint32_t i = 0; i < o.blocks; ++i) {
        uint64_t rnd = pattern::mix64(pattern::block_seed(o.seed, hop, i) ^ 0xa5a5a5a5a5a5a5a5ull);
        unsigned order = unsigned(__builtin_ctzll(rnd | (1ull << 63)));
        g_new_order[i] = uint8_t(order > o.max_order ? o.max_order : order);
        g_new_at[i] = 0;
    }
}

// ---- kept and retired blocks
void keep_and_retire(Builder& b, const ConsumedState& prev, const DropPlan& plan) {
    for (uint64_t i = 0; i < plan.count; ++i) {
        const mf::Entry& e = prev.entries[i];
        const char* err = plan.dropped(i) ? b.retire(e.phys, e.order) : b.keep(e);
        if (err) fail_now("produce: %s", err);
    }
}

// ---- the new blocks that are not at an edge: first fit, windows in turn
// (both sides of 4 GiB); returns how many lie above 4 GiB
uint64_t place_new_blocks(Builder& b, const Windows& win, const Options& o) {
    uint64_t high = 0;
    for (uint32_t i = 0; i < o.blocks; ++i) {
        unsigned order = g_new_order[i];
        uint64_t size = kPage << order;
        uint64_t at = g_new_at[i];
        for (size_t k = 0; !at && k < win.count; ++k) at = g_busy.allocate(win.w[(i + k) % win.count], size, size);
        if (!at) fail_now("produce: no room for block %u (order %u)", i, order);
        if (at >= 1ull << 32) ++high;
        if (const char* err = b.add_block(i, at, order)) fail_now("produce: %s", err);
    }
    return high;
}

void put_u16_name(char16_t* dst, const char* src) {
    size_t i = 0;
    for (; src[i]; ++i) dst[i] = char16_t(src[i]);
    dst[i] = 0;
}

// ---- the handover descriptor (abi/handover_descriptor.h), written here
// from the ABI rather than with the loader's builder
void write_descriptor(const EfiRuntime& rt, uint64_t fdt_page, const KhoScratch* scratch, uint32_t scratch_count) {
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
    dh.fdt_crc32 = kho::crc32(reinterpret_cast<const void*>(fdt_page), kPage);
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
}

void report_state(const Builder& b, const Options& o, uint32_t hop, uint64_t kept, uint32_t edges, uint64_t high,
                  const KhoScratch* scratch, uint32_t scratch_count) {
    println("TEST_KERNEL: produce state hop=%u format=%s blocks=%lu kept=%lu new=%u retired=%lu "
            "written=0x%lx edge=%u above-4g=%lu fdt=0x%lx map=0x%lx manifest=0x%lx tables=%lu leaves=%lu",
            hop, o.produce_format, (unsigned long)b.entry_count(), (unsigned long)kept, o.blocks,
            (unsigned long)b.retired_count(), (unsigned long)b.written_bytes(), edges, (unsigned long)high,
            (unsigned long)b.fdt(), (unsigned long)b.map_root(), (unsigned long)b.blob(),
            (unsigned long)b.table_pages(), (unsigned long)b.leaf_pages());
    for (uint32_t i = 0; i < scratch_count; ++i)
        println("TEST_KERNEL: produce scratch %u 0x%lx-0x%lx", i, (unsigned long)scratch[i].addr,
                (unsigned long)(scratch[i].addr + scratch[i].size));
}

}  // namespace

void produce(const BootInfo& bi, const Options& o, const ConsumedState& prev, const EfiRuntime& rt,
             uint32_t hop, bool power_off) {
    state::Format fmt;
    if (!state::find_format(o.produce_format, &fmt)) fail_now("produce: unknown tk.format=%s", o.produce_format);
    if (!rt.ready()) fail_now("produce: no UEFI runtime services to write the descriptor");
    libfdt_glue_init();

    mark_busy(bi, prev);
    Windows win = allowed_windows(bi, o);
    KhoScratch scratch[mf::kMaxScratch];
    uint32_t scratch_count = choose_scratch(prev, o, win, scratch);
    DropPlan plan = plan_drops(prev, o);
    draw_orders(o, hop);

    ProducerEnv env{win};
    Builder b(env, state::Config{fmt, hop, o.seed, o.full_order, scratch, scratch_count});
    // Edge blocks are claimed before anything else can take them.
    uint32_t edges = b.place_edge_blocks(g_new_order, o.blocks, 4, g_new_at);
    if (const char* err = b.reserve(plan.count - plan.drop + o.blocks, plan.drop)) fail_now("produce: %s", err);
    keep_and_retire(b, prev, plan);
    uint64_t high = place_new_blocks(b, win, o);
    if (const char* err = b.finish()) fail_now("produce: %s", err);

    report_state(b, o, hop, plan.count - plan.drop, edges, high, scratch, scratch_count);
    write_descriptor(rt, b.fdt(), scratch, scratch_count);
    if (power_off) {
        println("TEST_KERNEL: produce power-off");
        println("TEST_KERNEL: result pass");
        qemu_exit(kExitPass);
    }
    println("TEST_KERNEL: produce reset warm");
    rt.reset_warm();
}

}  // namespace tk
