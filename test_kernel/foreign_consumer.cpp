#include "foreign_consumer.h"

#include "../abi/kho_fdt.h"
#include "../loader/format.h"
#include "consumer_checks.h"
#include "heap_sort.h"
#include "kho_map_reader.h"
#include "page_hash_set.h"
#include "paging.h"
#include "report.h"
#include "serial.h"

namespace tk {
namespace {

using namespace checks;

// Static storage: the kernel has no heap. 64 Ki blocks is far above what a
// test Linux preserves (hundreds); more is reported as a failure rather
// than checked partially.
constexpr size_t kMaxBlocks = 1 << 16;
constexpr size_t kMaxMapPages = 1 << 15;
// A radix key can decode to any order up to 52; a block of order 40 is
// 4 PiB, more than any machine this kernel maps, so larger is corruption.
constexpr unsigned kMaxSaneOrder = 40;

PhysRange g_blocks[kMaxBlocks];
uint64_t g_map_pages[kMaxMapPages];
PageHashSet g_visited;

// Records what the walk finds; judging happens after it, on sorted lists.
struct ForeignWalk {
    uint64_t blocks = 0, pages = 0, map_pages = 0, bad_order = 0;
    uint64_t bad_order_phys = 0;
    size_t block_count = 0, map_count = 0;
    bool overflow = false;

    bool block(uint64_t phys, unsigned order) {
        ++blocks;
        if (order > kMaxSaneOrder) {
            if (!bad_order++) bad_order_phys = phys;
            return true;
        }
        pages += 1ull << order;
        if (block_count < kMaxBlocks) g_blocks[block_count++] = PhysRange{phys, phys + (kPage << order)};
        else overflow = true;
        return true;
    }
    bool metadata(uint64_t page) {
        ++map_pages;
        if (map_count < kMaxMapPages) g_map_pages[map_count++] = page;
        else overflow = true;
        return true;
    }
};

// Index of the first block ending after `start` in the sorted list.
size_t first_block_after(size_t n, uint64_t start) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (g_blocks[mid].end <= start) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

bool overlaps_block(size_t n, uint64_t start, uint64_t end) {
    size_t i = first_block_after(n, start);
    return i < n && g_blocks[i].start < end;
}

// The map walk: this kernel's own radix decoder (kho_map_reader.h: every
// pointer aligned, RAM, reached once, so a cycle or shared node stops it)
// over the real tree; blocks must be disjoint, and a state with no block
// at all is not what a KHO producer with preserved data hands over.
bool check_foreign_map(Ctx& c, uint64_t map, ForeignWalk* w) {
    if (c.version == KhoVersion::V1)
        return check("map", false,
                     "foreign kho-v1 state: its bitmap size (PAGE_SIZE or 512 bytes) depends on the "
                     "producer's kernel version and is not recorded in the state; only radix maps "
                     "(kho-v2+) are walked in foreign mode");
    g_visited.clear();
    MapReader reader(c.bi, g_visited);
    MapReadStats st;
    MapError err{};
    if (!reader.read_radix(map, *w, &st, &err))
        return check("map", false, "radix walk failed after %lu blocks: %s", (unsigned long)st.blocks, err.text);
    heap_sort(g_blocks, w->block_count, [](const PhysRange& a, const PhysRange& b) { return a.start < b.start; });
    uint64_t overlap_at = 0;
    size_t overlaps = 0;
    for (size_t i = 1; i < w->block_count; ++i)
        if (g_blocks[i].start < g_blocks[i - 1].end && !overlaps++) overlap_at = g_blocks[i].start;
    bool fdt_listed = false;
    for (size_t i = 0; i < w->block_count; ++i)
        if (g_blocks[i].contains(c.kd.fdt_addr, c.kd.fdt_addr + kPage)) fdt_listed = true;
    const char* why = nullptr;
    if (w->overflow) why = "more blocks or map pages than this kernel can hold";
    else if (w->bad_order) why = "a block decodes to an order above 40";
    else if (overlaps) why = "blocks overlap";
    else if (!w->blocks) why = "the map lists no block";
    uint64_t bytes = w->pages * kPage;
    return check("map", !why,
                 "%s radix walked: blocks=%lu pages=%lu bytes=0x%lx tables=%lu leaves=%lu "
                 "metadata-pages=%lu overlapping=%lu first-bad=0x%lx root-fdt-page=%s lowest=0x%lx "
                 "highest=0x%lx",
                 why ? why : "real map decoded", (unsigned long)w->blocks, (unsigned long)w->pages,
                 (unsigned long)bytes, (unsigned long)st.tables, (unsigned long)st.leaves,
                 (unsigned long)w->map_pages, (unsigned long)overlaps,
                 (unsigned long)(overlaps ? overlap_at : w->bad_order_phys),
                 fdt_listed ? "preserved" : "not-in-map",
                 (unsigned long)(w->block_count ? g_blocks[0].start : 0),
                 (unsigned long)(w->block_count ? g_blocks[w->block_count - 1].end : 0));
}

// Every block, every map page and the root FDT page must be e820 RAM,
// outside scratch (the next kernel's early allocations go there) and clear
// of the kernel image, initrd, boot_params, command line, setup_data,
// scratch table and EFI memory map; map pages must not lie in a block.
void check_foreign_ram(Ctx& c, const ForeignWalk& w) {
    uint64_t bad = 0, bad_addr = 0;
    const char* what = nullptr;
    auto note = [&](uint64_t a, const char* why) {
        if (!bad++) bad_addr = a, what = why;
    };
    for (size_t i = 0; i < w.block_count; ++i)
        if (const char* why = range_problem(c, g_blocks[i].start, g_blocks[i].end)) note(g_blocks[i].start, why);
    for (size_t i = 0; i < w.map_count; ++i) {
        uint64_t p = g_map_pages[i];
        if (const char* why = range_problem(c, p, p + kPage)) note(p, why);
        else if (overlaps_block(w.block_count, p, p + kPage)) note(p, "a preserved block (map page)");
    }
    if (const char* why = range_problem(c, c.kd.fdt_addr, c.kd.fdt_addr + kPage)) note(c.kd.fdt_addr, why);
    check("preserved-ram", bad == 0,
          "%s blocks=%lu map-pages=%lu loader-placements=%lu scratch-regions=%u bad=%lu%s%s at 0x%lx",
          bad ? "overlap or not RAM:" : "all RAM, clear of scratch and of the loader's placements",
          (unsigned long)w.block_count, (unsigned long)w.map_count, (unsigned long)c.placed.count,
          c.scratch_count, (unsigned long)bad, bad ? " " : "", bad ? what : "", (unsigned long)bad_addr);
}

// The names of the checks that ran, for the closing info line.
struct Ran {
    char text[160] = {};
    size_t len = 0;
    void add(const char* name) {
        len += kho::format(text + len, sizeof(text) - len, "%s%s", len ? "," : "", name);
        if (len >= sizeof(text)) len = sizeof(text) - 1;
    }
};

}  // namespace

void consume_foreign(const BootInfo& bi, const Options& o, const EfiRuntime* rt) {
    Ctx c{bi, o};
    Ran ran;
    auto done = [&] {
        println("TEST_KERNEL: info foreign-state checks-run=%s not-run=manifest,scratch,contents "
                "(a state this kernel did not produce has no test manifest, recorded scratch "
                "table or block digests)", ran.text);
    };
    check_boot_params(bi, o);
    ran.add("boot-params");
    check_cmdline(bi, o);
    ran.add("cmdline");
    if (o.has_initrd) {
        check_initrd(bi, o);
        ran.add("initrd");
    }
    if (o.efi_boot) {
        check_descriptor_consumed(o, rt);
        ran.add("descriptor");
    }
    size_t nodes = check_setup_data(c, 1);
    ran.add("setup-data");
    if (nodes != 1) return done();

    collect_placements(bi, c.kd.scratch_addr, c.kd.scratch_size, &c.placed);
    uint64_t map = 0;
    bool fdt_ok = check_fdt(c, o.expect_compat, &map);
    ran.add("fdt");
    if (!fdt_ok) return done();
    if (!version_from(o.expect_compat, &c.version) || c.version == KhoVersion::Multikernel1) {
        check("fdt", false, "tk.compat=%s is not a KHO version with a preserved-memory map", o.expect_compat);
        return done();
    }
    bool table_ok = check_scratch_table(c);
    ran.add("scratch-table");
    if (!table_ok) return done();
    check_placement(c);
    ran.add("placement");
    ForeignWalk w;
    bool map_ok = check_foreign_map(c, map, &w);
    ran.add("map");
    if (map_ok) {
        check_foreign_ram(c, w);
        ran.add("preserved-ram");
    }
    done();
}

}  // namespace tk
