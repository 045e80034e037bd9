// The whole chain an attacker who controls RAM and the descriptor reaches,
// as efi/main.cpp runs it (protect_state(), build_cmdline(), place(),
// place_cold(), write_boot_data(), exit_and_jump()), with the EFI app's
// capacities and nothing but core functions:
//   descriptor -> FDT CRC -> root FDT -> map decoder -> page rounding ->
//   protected set -> memory plan -> allocation -> command line ->
//   placement -> boot_params -> e820 from the final map.
// The firmware's side is modelled: AllocatePages(AllocateAddress) turns
// the ranges it is given from Conventional into the type asked for, and
// the next GetMemoryMap() shows that.
//
// Input (little-endian):
//   u8  flags   bit0 set the descriptor's fdt_crc32 to the CRC of the FDT
//                    page in RAM; bit1 set its checksum (so mutations get
//                    past both); bit2 static setup: the descriptor bytes
//                    are boot-entry text (kho-fdt, kho-scratch keys);
//                    bit3 the kernel can be loaded above 4 GiB
//   u8  items   firmware map items (at most 32), each
//               {u8 type, u8 repeat, u32 start_page, u32 pages, u32 gap_pages}:
//               repeat + 1 descriptors, pages + gap_pages apart
//   u16 desc_len
//   u32 image_page   RAM content origin (page number)
//   u16 kernel_64k   init_size = (kernel_64k + 1) * 64 KiB
//   u8  align_log2   kernel_alignment = 2^(12 + align_log2 % 19)
//   u8  initrd_mib
//   items, then desc_len descriptor bytes, then the RAM image (repeated
//   from the origin over every RAM descriptor).
//
// Invariants (a trap is a finding): no crash; a bounded step count in the
// decoder sink (StepSink) and under libFuzzer's -timeout; every decoded
// block and map page is protected, and allocated or reported as a
// conflict; nothing allocated lies outside free RAM; no kernel, initrd or
// boot data over preserved memory (a cold boot off a refused state keeps
// off what was decoded of it); boot data outside scratch; e820 and the
// setup_data chain describe the final map and the handover.
#include <string.h>

#include <algorithm>
#include <vector>

#include "fuzz_mem.h"
#include "loader/boot_entry.h"
#include "loader/boot_params_builder.h"
#include "loader/bzimage.h"
#include "loader/cmdline.h"
#include "loader/crc32.h"
#include "loader/handover_descriptor.h"
#include "loader/kernel_placement.h"
#include "loader/kho_fdt_reader.h"
#include "loader/memory_plan.h"
#include "loader/protected_set.h"
#include "loader/loader_limits.h"
#include "loader/protection_plan.h"
#include "loader/state_verify.h"

namespace {

using namespace kho;
using kho::fuzz::kPage;
namespace efi = abi::efi;
namespace x86 = abi::x86;
namespace fz = kho::fuzz;

#define CHECK(cond) \
    do {            \
        if (!(cond)) __builtin_trap(); \
    } while (0)

using kho::fuzz::trace;

struct Desc48 {
    efi::MemoryDescriptor d;
    uint64_t pad;
};
static_assert(sizeof(Desc48) == 48);

FirmwareMemoryMap view_of(const std::vector<Desc48>& m) {
    return FirmwareMemoryMap{reinterpret_cast<const uint8_t*>(m.data()), m.size(), sizeof(Desc48)};
}

Desc48 make_desc(uint32_t type, uint64_t start, uint64_t pages) {
    Desc48 x{};
    x.d.type = type;
    x.d.physical_start = start;
    x.d.number_of_pages = pages;
    x.d.attribute = efi::kMemoryWB;
    if (type == efi::kRuntimeServicesCode || type == efi::kRuntimeServicesData)
        x.d.attribute |= efi::kMemoryRuntime;
    return x;
}

// AllocatePages(AllocateAddress) of sorted, disjoint `cuts` (each with its
// type), as the firmware's next map shows them: Conventional descriptors
// split around them.
struct Cut {
    Range r;
    uint32_t type;
};
void carve(const std::vector<Desc48>& in, const std::vector<Cut>& cuts, std::vector<Desc48>& out) {
    out.clear();
    for (const Desc48& x : in) {
        if (x.d.type != efi::kConventionalMemory) {
            out.push_back(x);
            continue;
        }
        uint64_t s = x.d.physical_start, e = s + x.d.number_of_pages * kPage, cur = s;
        auto it = std::lower_bound(cuts.begin(), cuts.end(), s,
                                   [](const Cut& c, uint64_t a) { return c.r.end <= a; });
        for (; it != cuts.end() && it->r.start < e; ++it) {
            uint64_t lo = std::max(it->r.start, s), hi = std::min(it->r.end, e);
            if (lo > cur) out.push_back(make_desc(efi::kConventionalMemory, cur, (lo - cur) / kPage));
            out.push_back(make_desc(it->type, lo, (hi - lo) / kPage));
            cur = hi;
        }
        if (cur < e) out.push_back(make_desc(efi::kConventionalMemory, cur, (e - cur) / kPage));
    }
}

// Descriptors pairwise disjoint (a sane firmware map): some checks only
// hold then.
bool disjoint(const std::vector<Desc48>& m) {
    std::vector<Range> r;
    for (const Desc48& x : m)
        if (x.d.number_of_pages)
            r.push_back({x.d.physical_start, x.d.physical_start + x.d.number_of_pages * kPage});
    std::sort(r.begin(), r.end(), [](const Range& a, const Range& b) { return a.start < b.start; });
    for (size_t i = 1; i < r.size(); i++)
        if (r[i].start < r[i - 1].end) return false;
    return true;
}

bool touches(const RangeSet& set, uint64_t start, uint64_t size) {
    return size && set.intersects(start, start + size);
}
bool inside(const RangeSet& set, uint64_t start, uint64_t size) {
    return !size || set.contains(start, start + size);
}

// --- storage: the EFI arena -------------------------------------------------
Range g_protect[fz::kEfiProtectRanges], g_allocate[fz::kEfiProtectRanges];
Range g_scratch_free[fz::kEfiScratchFree], g_overlaps[fz::kEfiOverlaps];
Range g_scratch[abi::descriptor::kMaxScratch];
Range g_work[fz::kEfiWorkRanges];
Conflict g_conflicts[fz::kEfiConflicts];
uint64_t g_visited[fz::kEfiVisitedSlots];
KhoState g_state;
HandoverDescriptor g_desc;
alignas(8) uint8_t g_desc_raw[abi::descriptor::kMaxSize];
alignas(8) uint8_t g_memblock_fdt[fz::kEfiMemblockFdt];
ReserveMemRegion g_regions[fz::kEfiReserveRegions];
char g_cmdline_buf[fz::kEfiCmdline];
uint8_t g_prefix[kBzImagePrefix];
BootEntry g_entry;
std::vector<Desc48> g_map0, g_map2, g_final;
std::vector<uint8_t> g_block;
std::vector<Range> g_storage;  // placement sets, pooled as map_storage() does
std::vector<x86::E820Entry> g_e820;

class Quiet : public ConfigWarnings {
public:
    void warn(const char*, unsigned, const char*) override {}
};

// A 64-bit relocatable bzImage header (boot.rst), as the ESP would hold it.
bool make_kernel(uint64_t init_size, unsigned align_log2, bool above_4g, BzImage* out) {
    memset(g_prefix, 0, sizeof(g_prefix));
    auto put = [](size_t off, uint64_t v, size_t n) { memcpy(g_prefix + off, &v, n); };
    const uint64_t setup_sects = 4, payload = 0x10000;
    put(0x1f1, setup_sects, 1);
    put(0x1fe, x86::kBootFlag, 2);
    g_prefix[0x200] = 0xeb;
    g_prefix[0x201] = 0x26c - 0x202;
    put(0x202, x86::kHeaderMagic, 4);
    put(0x206, 0x020f, 2);
    put(0x1f4, payload / 16, 4);            // syssize
    put(0x211, x86::kLoadedHigh, 1);
    put(0x214, 0x100000, 4);
    put(0x22c, 0x7fffffff, 4);              // initrd_addr_max
    put(0x230, uint64_t(1) << align_log2, 4);
    put(0x234, 1, 1);                       // relocatable
    put(0x235, align_log2, 1);
    put(0x236, x86::kXlfKernel64 | (above_4g ? x86::kXlfCanBeLoadedAbove4G : 0), 2);
    put(0x238, 2047, 4);                    // cmdline_size
    put(0x258, 0x1000000, 8);               // pref_address
    put(0x260, init_size, 4);
    return parse_bzimage(g_prefix, sizeof(g_prefix), (setup_sects + 1) * 512 + payload, out).is_ok();
}

struct Chain {
    fz::FirmwareMem* mem;
    RangeSet protect{g_protect, fz::kEfiProtectRanges};
    RangeSet allocate{g_allocate, fz::kEfiProtectRanges};
    RangeSet scratch_free{g_scratch_free, fz::kEfiScratchFree};
    RangeSet overlaps{g_overlaps, fz::kEfiOverlaps};
    RangeSet scratch{g_scratch, abi::descriptor::kMaxScratch};
    bool found = false, from_variable = false, usable = false, multikernel = false;
    bool allocated = false;  // the protected ranges are LoaderData now (g_map2)
};

// Pass 1 of khoboot's protect_state(): the state streamed through the
// ProtectionPlanner; its allocations land in g_hull_set. At most one piece
// per free region and scratch range, whatever the fragmentation.
Range g_free_regions[fz::kEfiMapBytes / sizeof(efi::MemoryDescriptor)];
Range g_hulls[fz::kEfiMapBytes / sizeof(efi::MemoryDescriptor)];
Range g_outside[limits::kOutsideRanges];
Range g_hull_storage[fz::kEfiMapBytes / sizeof(efi::MemoryDescriptor) + 2 * abi::descriptor::kMaxScratch];
RangeSet g_hull_set{g_hull_storage, sizeof(g_hull_storage) / sizeof(g_hull_storage[0])};
Range g_sf_storage[fz::kEfiScratchFree], g_ov_storage[fz::kEfiOverlaps];
Conflict g_conflicts2[fz::kEfiConflicts];

Status plan_streaming(fz::FirmwareMem& mem, Chain& c, const ProtectOptions& options) {
    ProtectionStorage st{g_free_regions, g_hulls, sizeof(g_hulls) / sizeof(g_hulls[0]), g_outside,
                         limits::kOutsideRanges};
    ProtectionPlanner planner(view_of(g_map0), c.scratch, st);
    KHO_TRY(planner.begin());
    static uint64_t slots[fz::kEfiVisitedSlots];
    memset(slots, 0, sizeof(slots));
    PageSet visited(slots, fz::kEfiVisitedSlots);
    KHO_TRY(decode_state(mem, g_state, options, visited, planner, nullptr));
    KHO_TRY(add_state_blobs(planner, g_state, options));
    RangeSet sf(g_sf_storage, fz::kEfiScratchFree), ov(g_ov_storage, fz::kEfiOverlaps);
    MemoryPlan plan{&g_hull_set, &sf, &ov, g_conflicts2, fz::kEfiConflicts};
    KHO_TRY(planner.finish(g_work, fz::kEfiWorkRanges, plan));
    CHECK(g_hull_set.size() <= g_map0.size() + c.scratch.size());
    return plan_verdict(plan);
}

// protect_state(): validate, decode, plan, allocate.
Status protect_state(Chain& c, const HandoverDescriptor& d) {
    fz::FirmwareMem& mem = *c.mem;
    if (g_map0.size() * sizeof(Desc48) > fz::kEfiMapBytes)
        return Status::error(Err::Io, "GetMemoryMap: buffer too small");
    KHO_TRY(mem.load(view_of(g_map0)));
    if (d.flags & abi::descriptor::kFlagFdtCrc) {
        const uint8_t* page = mem.view(d.fdt_addr, abi::kRootFdtSize);
        if (!page) return Status::error(Err::Stale, "FDT page not RAM");
        if (crc32(page, abi::kRootFdtSize) != d.fdt_crc32) return Status::error(Err::Stale, "crc");
    }
    KHO_TRY(read_kho_fdt(mem, d.fdt_addr, &g_state));
    CHECK(g_state.fdt_addr == d.fdt_addr && g_state.subnode_count <= KhoState::kMaxSubnodes);
    c.multikernel = g_state.version == abi::KhoVersion::Multikernel1;
    if (c.from_variable && ((d.flags & abi::descriptor::kFlagMultikernel) != 0) != c.multikernel)
        return Status::error(Err::BadDescriptor, "multikernel flag");
    if (!c.multikernel && d.scratch_count == 0)
        return Status::error(Err::BadProperty, "no scratch");

    ProtectOptions options;
    if (d.flags & abi::descriptor::kFlagManifest) {
        KHO_TRY(check_ram_manifest_range(d.manifest_addr, d.manifest_size));
        options.manifest_addr = d.manifest_addr;
        options.manifest_size = d.manifest_size;
    }
    c.protect.clear();
    PageSet visited(g_visited, fz::kEfiVisitedSlots);
    RangeSetSink into(c.protect, c.protect);
    fz::StepSink steps(into, mem, fz::kEfiVisitedSlots);
    ProtectStats stats;
    KHO_TRY(collect_protected(mem, g_state, options, visited, steps, c.protect, &stats));

    // Accepted: everything decoded and named is protected, page-rounded,
    // inside the 52-bit space.
    CHECK(c.protect.normalized());
    for (const Range& r : c.protect)
        CHECK(!r.empty() && !(r.start & (kPage - 1)) && !(r.end & (kPage - 1)) && below_phys_limit(r));
    if (steps.complete()) {
        for (const Range& r : steps.recorded_blocks()) CHECK(c.protect.contains(r.start, r.end));
        for (const Range& r : steps.recorded_metadata()) CHECK(c.protect.contains(r.start, r.end));
    }
    CHECK(c.protect.contains(d.fdt_addr, d.fdt_addr + kPage));
    for (size_t i = 0; i < g_state.subnode_count; i++)
        CHECK(inside(c.protect, g_state.subnodes[i].blob_phys, g_state.subnodes[i].blob_size));
    if (options.manifest_addr) CHECK(inside(c.protect, options.manifest_addr, options.manifest_size));
    CHECK(stats.blocks >= steps.recorded_blocks().size() || !steps.complete());

    c.scratch.clear();
    for (size_t i = 0; i < d.scratch_count; i++)
        KHO_TRY(c.scratch.add(d.scratch[i].addr, d.scratch[i].addr + d.scratch[i].size));
    c.scratch.normalize();

    MemoryPlan plan{&c.allocate, &c.scratch_free, &c.overlaps, g_conflicts, fz::kEfiConflicts};
    KHO_TRY(make_memory_plan(view_of(g_map0), c.protect, c.scratch, g_work, fz::kEfiWorkRanges, plan));

    // Every protected byte is allocated or reported as a conflict; what is
    // allocated is protected and free RAM.
    const RangeSet& free0 = mem.free_memory();
    uint64_t conflict_bytes = 0;
    for (const Range& r : c.allocate)
        CHECK(c.protect.contains(r.start, r.end) && free0.contains(r.start, r.end));
    size_t shown = std::min(plan.conflict_count, plan.conflict_capacity);
    for (size_t i = 0; i < shown; i++) {
        const Range& r = g_conflicts[i].range;
        CHECK(!r.empty() && c.protect.contains(r.start, r.end) && !free0.intersects(r.start, r.end));
        conflict_bytes += r.size();
    }
    if (plan.conflict_count <= plan.conflict_capacity)
        CHECK(c.allocate.total_bytes() + conflict_bytes == c.protect.total_bytes());
    if (plan.conflict_count == 0 && steps.complete()) {
        for (const Range& r : steps.recorded_blocks()) CHECK(c.allocate.contains(r.start, r.end));
        for (const Range& r : steps.recorded_metadata()) CHECK(c.allocate.contains(r.start, r.end));
    }
    for (const Range& r : c.overlaps)
        CHECK(c.protect.contains(r.start, r.end) && c.scratch.contains(r.start, r.end));
    for (const Range& r : c.scratch_free)
        CHECK(c.scratch.contains(r.start, r.end) && free0.contains(r.start, r.end) &&
              !c.protect.intersects(r.start, r.end));

    Status exact = plan_verdict(plan);
    Status streamed = plan_streaming(mem, c, options);
    // The streaming planner khoboot protects with reaches the same verdict.
    CHECK(streamed.is_ok() == exact.is_ok());
    if (!exact) return exact;
    CHECK(streamed.code() == Err::Ok);
    for (const Range& r : c.protect) CHECK(g_hull_set.contains(r.start, r.end));
    for (const Range& r : g_hull_set)
        CHECK(free0.contains(r.start, r.end) && !c.scratch.intersects(r.start, r.end));

    // AllocatePages(AllocateAddress) per hull: the firmware's next map.
    std::vector<Cut> cuts;
    for (const Range& r : g_hull_set) cuts.push_back({r, efi::kLoaderData});
    carve(g_map0, cuts, g_map2);
    c.allocated = true;
    return Status::ok();
}

Status build_cmdline(Chain& c, bool handover, const BzImage& image, CommandLine& cl) {
    KHO_TRY(cl.set(g_entry.options));
    if (handover) {
        size_t n = 0;
        KHO_TRY(read_reserve_mem_regions(*c.mem, g_state, g_memblock_fdt, sizeof(g_memblock_fdt),
                                         g_regions, fz::kEfiReserveRegions, &n));
        CHECK(n <= fz::kEfiReserveRegions);
        KhoCmdlineEdits edits;
        KHO_TRY(add_kho_parameters(cl, g_regions, n, &edits));
        CHECK(cl.has("kho"));
    }
    CHECK(cl.length() == strlen(cl.c_str()) && cl.length() < sizeof(g_cmdline_buf));
    if (cl.length() > image.cmdline_max) return Status::error(Err::BadEntry, "cmdline too long");
    return Status::ok();
}

struct Loaded {
    Placement p{};
    BootDataLayout layout{};
    size_t scratch_count = 0;
    size_t ranges = 0, work_ranges = 0, e820_capacity = 0;
};

// map_storage(): arena when the map is small, else pool (not while a
// refused state must be kept clear).
Status map_storage(size_t count, bool may_use_pool, Loaded* out) {
    const size_t want = 2 * count + 2 * fz::kEfiMapSlack;
    const size_t arena_e820 = fz::kEfiMapBytes / sizeof(efi::MemoryDescriptor);
    if (want * sizeof(Desc48) <= fz::kEfiMapBytes && want <= fz::kEfiMapRanges &&
        2 * want <= fz::kEfiWorkRanges && want <= arena_e820) {
        out->ranges = fz::kEfiMapRanges;
        out->work_ranges = fz::kEfiWorkRanges;
        out->e820_capacity = arena_e820;
        return Status::ok();
    }
    if (!may_use_pool) return Status::error(Err::Capacity, "map exceeds the arena");
    out->ranges = want;
    out->work_ranges = 2 * want;
    out->e820_capacity = want;
    return Status::ok();
}

// place(): choose addresses; the caller checks them against the map.
Status place(Chain& c, bool handover, bool avoid_state, const BzImage& image, uint64_t initrd_total,
             size_t cmdline_len, Loaded* out) {
    const std::vector<Desc48>& now = c.allocated ? g_map2 : g_map0;
    KHO_TRY(map_storage(now.size(), !avoid_state, out));
    if (g_storage.size() < 3 * out->ranges + out->work_ranges)
        g_storage.resize(3 * out->ranges + out->work_ranges);
    Range* st = g_storage.data();
    RangeSet fw_ram(st, out->ranges), free_mem(st + out->ranges, out->ranges);
    RangeSet data_space(st + 2 * out->ranges, out->ranges);
    Range* work = st + 3 * out->ranges;
    const FirmwareMemoryMap map = view_of(now);
    KHO_TRY(firmware_ram(map, fw_ram, free_mem));
    const RangeSet* image_space = &free_mem;
    if (handover && c.multikernel) {
        KHO_TRY(data_space.add_all(free_mem));
        data_space.normalize();
    } else if (handover) {
        MemoryPlan plan{&c.allocate, &c.scratch_free, &c.overlaps, g_conflicts, fz::kEfiConflicts};
        KHO_TRY(make_memory_plan(map, c.protect, c.scratch, work, out->work_ranges, plan));
        image_space = &c.scratch_free;
        KHO_TRY(free_mem.subtract(c.scratch, data_space));
    } else if (avoid_state) {
        KHO_TRY(free_mem.subtract(c.protect, data_space));
        image_space = &data_space;
    } else {
        KHO_TRY(data_space.add_all(free_mem));
        data_space.normalize();
    }
    out->scratch_count = handover && !c.multikernel ? g_desc.scratch_count : 0;
    out->layout = layout_boot_data(cmdline_len, out->scratch_count, map.count + fz::kEfiMapSlack,
                                   map.stride);
    PlacementRequest q;
    KHO_TRY(make_placement_request(image, initrd_total, out->layout.size, &q));
    KHO_TRY(place_boot_images(*image_space, data_space, q, handover ? "scratch" : "RAM", &out->p));

    // What was chosen: free RAM the firmware would allocate, in the space
    // asked for, clear of each other, of preserved memory (the protected
    // ranges on a handover; what was decoded of a refused state on a cold
    // boot that keeps off it) and, for the boot data, of scratch.
    const Placement& p = out->p;
    const uint64_t bsize = out->layout.size;
    CHECK(!(p.kernel & (image.alignment - 1)) && p.kernel >= image.min_load);
    CHECK(p.kernel + image.init_size <= image.max_end && p.boot_data + bsize <= (1ull << 32));
    CHECK(initrd_total ? p.initrd + initrd_total <= image.initrd_max_end : p.initrd == 0);
    CHECK(image_space->contains(p.kernel, p.kernel + image.init_size));
    CHECK(inside(*image_space, p.initrd, initrd_total));
    CHECK(data_space.contains(p.boot_data, p.boot_data + bsize));
    for (const auto& [a, n] : {std::pair{p.kernel, image.init_size}, std::pair{p.initrd, initrd_total},
                               std::pair{p.boot_data, bsize}}) {
        CHECK(inside(free_mem, a, n) && !(a & (kPage - 1)));
        if (handover || avoid_state) CHECK(!touches(c.protect, a, n));
    }
    if (handover && !c.multikernel) CHECK(!touches(c.scratch, p.boot_data, bsize));
    Range k{p.kernel, p.kernel + image.init_size}, i{p.initrd, p.initrd + initrd_total},
        b{p.boot_data, p.boot_data + bsize};
    CHECK(!k.overlaps(b) && !i.overlaps(b) && !k.overlaps(i));
    return Status::ok();
}

Status place_cold(Chain& c, const BzImage& image, uint64_t initrd_total, size_t cmdline_len,
                  Loaded* out) {
    if (c.found && c.protect.size()) {
        Status s = place(c, false, true, image, initrd_total, cmdline_len, out);
        if (s) return s;
    }
    return place(c, false, false, image, initrd_total, cmdline_len, out);
}

// write_boot_data() and exit_and_jump() on a host copy of the block.
void boot(Chain& c, const Loaded& l, bool handover, const BzImage& image, const CommandLine& cl,
          uint64_t initrd_total) {
    const uint64_t base = l.p.boot_data;
    g_block.assign(l.layout.size, 0);
    uint8_t* block = g_block.data();
    memcpy(block + l.layout.cmdline, cl.c_str(), cl.length() + 1);
    BootParamsInputs in{};
    in.kernel_load = l.p.kernel;
    in.initrd_addr = initrd_total ? l.p.initrd : 0;
    in.initrd_size = initrd_total;
    in.cmdline_addr = base + l.layout.cmdline;
    in.acpi_rsdp = 0xe0000;
    in.efi_system_table = 0x7f000000;
    auto* bp = reinterpret_cast<x86::BootParams*>(block + l.layout.boot_params);
    CHECK(init_boot_params(image, g_prefix, sizeof(g_prefix), in, bp).is_ok());
    SetupDataChain chain(bp);
    uint64_t node_phys = 0;
    if (handover) {
        auto* table = reinterpret_cast<abi::KhoScratch*>(block + l.layout.scratch_table);
        for (size_t i = 0; i < l.scratch_count; i++) table[i] = g_desc.scratch[i];
        x86::KhoData kd = make_kho_data(g_desc.fdt_addr, base + l.layout.scratch_table, l.scratch_count,
                                        c.multikernel);
        auto* node = reinterpret_cast<x86::SetupData*>(block + l.layout.kho_node);
        memcpy(node + 1, &kd, sizeof(kd));
        node_phys = base + l.layout.kho_node;
        chain.append(node, node_phys, x86::kSetupKexecKho, sizeof(kd));
        CHECK(kd.fdt_addr == g_desc.fdt_addr && kd.fdt_size == kPage);
        CHECK(c.multikernel ? kd.scratch_addr == 0 && kd.scratch_size == 0
                            : kd.scratch_size == 16 * g_desc.scratch_count && kd.scratch_size);
    }

    // The final map: kernel, initrd and boot data allocated too.
    std::vector<Cut> cuts{{{l.p.kernel, l.p.kernel + image.init_size}, efi::kLoaderCode},
                          {{l.p.boot_data, l.p.boot_data + l.layout.size}, efi::kLoaderData}};
    if (initrd_total) cuts.push_back({{l.p.initrd, l.p.initrd + initrd_total}, efi::kLoaderData});
    std::sort(cuts.begin(), cuts.end(), [](const Cut& a, const Cut& b) { return a.r.start < b.r.start; });
    carve(c.allocated ? g_map2 : g_map0, cuts, g_final);
    CHECK(g_final.size() * sizeof(Desc48) <= l.layout.memmap_capacity);
    memcpy(block + l.layout.efi_memmap, g_final.data(), g_final.size() * sizeof(Desc48));
    FirmwareMemoryMap final_map{block + l.layout.efi_memmap, g_final.size(), sizeof(Desc48)};

    auto* ext_node = reinterpret_cast<x86::SetupData*>(block + l.layout.e820_ext);
    E820Ext ext{ext_node, base + l.layout.e820_ext, l.layout.e820_ext_capacity};
    g_e820.resize(l.e820_capacity);
    size_t n = 0;
    Status s = set_memory_info(bp, final_map, base + l.layout.efi_memmap, 1, 0x7f000000, g_e820.data(),
                               g_e820.size(), ext, chain, &n);
    trace("e820", s);
    if (!s) return;  // the EFI app stops after ExitBootServices

    // e820: the zero page holds the first 128, SETUP_E820_EXT the rest.
    CHECK(bp->e820_entries == std::min<size_t>(n, x86::kE820MaxZeroPage));
    size_t ext_n = n - bp->e820_entries;
    CHECK(chain.length() == (handover ? 1u : 0u) + (ext_n ? 1u : 0u));
    if (ext_n) CHECK(ext_node->type == x86::kSetupE820Ext && ext_node->len == ext_n * sizeof(x86::E820Entry));
    if (handover) {
        CHECK(bp->hdr.setup_data == node_phys);
        auto* node = reinterpret_cast<x86::SetupData*>(block + l.layout.kho_node);
        CHECK(node->type == x86::kSetupKexecKho && node->next == (ext_n ? base + l.layout.e820_ext : 0));
    } else {
        CHECK(bp->hdr.setup_data == (ext_n ? base + l.layout.e820_ext : 0));
    }
    auto entry = [&](size_t i) {
        x86::E820Entry e;
        if (i < x86::kE820MaxZeroPage) memcpy(&e, &bp->e820_table[i], sizeof(e));
        else memcpy(&e, reinterpret_cast<uint8_t*>(ext_node + 1) + (i - x86::kE820MaxZeroPage) * sizeof(e), sizeof(e));
        return e;
    };
    if (!disjoint(g_map0)) return;
    // A sane map gives a sorted, disjoint e820 whose RAM covers every
    // preserved range handed over and the kernel.
    std::vector<Range> ram;
    for (size_t i = 0; i < n; i++) {
        x86::E820Entry e = entry(i);
        CHECK(e.size);
        if (i) {
            x86::E820Entry prev = entry(i - 1);
            CHECK(prev.addr + prev.size <= e.addr);
            CHECK(!(prev.addr + prev.size == e.addr && prev.type == e.type));
        }
        if (e.type == x86::kE820Ram) {
            if (!ram.empty() && ram.back().end == e.addr) ram.back().end = e.addr + e.size;
            else ram.push_back({e.addr, e.addr + e.size});
        }
    }
    if (ram.size() > fz::kEfiProtectRanges) return;
    static Range ram_store[fz::kEfiProtectRanges];
    RangeSet ram_set(ram_store, fz::kEfiProtectRanges);
    for (const Range& r : ram) CHECK(ram_set.add(r).is_ok());
    ram_set.normalize();
    CHECK(ram_set.contains(l.p.kernel, l.p.kernel + image.init_size));
    if (handover)
        for (const Range& r : c.protect) CHECK(ram_set.contains(r.start, r.end));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fz::Reader in(data, size);
    const uint8_t flags = in.take<uint8_t>();
    const unsigned items = in.take<uint8_t>() % 33;
    const size_t desc_len = std::min<size_t>(in.take<uint16_t>(), sizeof(g_desc_raw));
    const uint64_t origin = uint64_t(in.take<uint32_t>()) * kPage;
    const uint64_t init_size = (uint64_t(in.take<uint16_t>()) + 1) << 16;
    const unsigned align_log2 = 12 + in.take<uint8_t>() % 19;
    const uint64_t initrd_total = uint64_t(in.take<uint8_t>()) << 20;

    g_map0.clear();
    for (unsigned i = 0; i < items; i++) {
        uint8_t t = in.take<uint8_t>();
        unsigned repeat = in.take<uint8_t>();
        uint64_t start = in.take<uint32_t>(), pages = in.take<uint32_t>(), gap = in.take<uint32_t>();
        uint32_t type = t < efi::kMaxMemoryType ? t : 0x70000000u + t;
        for (unsigned k = 0; k <= repeat; k++)
            g_map0.push_back(make_desc(type, (start + k * (pages + gap)) * kPage, pages));
    }
    const uint8_t* desc_bytes;
    size_t dn = in.bytes(desc_len, &desc_bytes);
    const uint8_t* image;
    size_t image_len = in.bytes(in.left(), &image);

    BzImage kernel;
    if (!make_kernel(init_size, align_log2, flags & 8, &kernel)) return 0;

    fz::FirmwareMem mem(image, image_len, origin);
    Chain c;
    c.mem = &mem;
    Quiet quiet;
    static const char kEntry[] = "title fuzz\nlinux /vmlinuz\noptions console=ttyS0 quiet\n";
    init_boot_entry(&g_entry, "fuzz");
    if (!parse_boot_entry("fuzz.conf", kEntry, sizeof(kEntry) - 1, &g_entry, &quiet)) __builtin_trap();

    // 1. The descriptor (the KhoHandover variable), or a static setup.
    if (!(flags & 4)) {
        c.found = c.from_variable = true;
        memcpy(g_desc_raw, desc_bytes, dn);
        if ((flags & 1) && dn >= 52 && mem.load(view_of(g_map0))) {
            uint64_t fdt;
            memcpy(&fdt, g_desc_raw + 32, 8);
            if (const uint8_t* page = mem.view(fdt, kPage)) {
                uint32_t crc = crc32(page, kPage);
                memcpy(g_desc_raw + 48, &crc, 4);
            }
        }
        if ((flags & 2) && dn >= 24) {
            uint32_t total;
            memcpy(&total, g_desc_raw + 16, 4);
            size_t n = std::min<size_t>(total, dn);
            if (n >= 24) {
                uint32_t crc = crc32_self_checked(g_desc_raw, n, 20);
                memcpy(g_desc_raw + 20, &crc, 4);
            }
        }
        Status ds = parse_handover_descriptor(g_desc_raw, dn, &g_desc);
        trace("descriptor", ds);
        if (ds) {
            Status ps = protect_state(c, g_desc);
            trace("protect", ps);
            c.usable = ps.is_ok();
        }
    } else {
        // kho-fdt / kho-scratch in the entry: read after the entry, with
        // the entry parser's checks.
        static char text[sizeof(kEntry) + abi::descriptor::kMaxSize];
        memcpy(text, kEntry, sizeof(kEntry) - 1);
        memcpy(text + sizeof(kEntry) - 1, desc_bytes, dn);
        BootEntry& e = g_entry;
        init_boot_entry(&e, "fuzz");
        if (!parse_boot_entry("fuzz.conf", text, sizeof(kEntry) - 1 + dn, &e, &quiet)) {
            init_boot_entry(&e, "fuzz");
            (void)parse_boot_entry("fuzz.conf", kEntry, sizeof(kEntry) - 1, &e, &quiet);
        }
        if (e.kho_fdt && e.kho != KhoMode::Off) {
            c.found = true;
            memset(&g_desc, 0, sizeof(g_desc));
            g_desc.fdt_addr = e.kho_fdt;
            g_desc.fdt_size = abi::kRootFdtSize;
            g_desc.scratch_count = static_cast<uint32_t>(e.kho_scratch_count);
            for (size_t i = 0; i < e.kho_scratch_count; i++) g_desc.scratch[i] = e.kho_scratch[i];
            Status ps = protect_state(c, g_desc);
            trace("protect (entry)", ps);
            c.usable = ps.is_ok();
        }
    }
    // A refused state keeps what was decoded of it for the cold boot.
    if (!c.usable) c.protect.normalize();

    // 2. boot(): the entry says kho auto, kho-on-error cold-boot.
    KhoAction action = decide_kho_action(g_entry.kho, g_entry.kho_on_error, c.found, c.usable);
    CHECK(action != KhoAction::Halt && (action == KhoAction::Handover) == c.usable);
    bool handover = action == KhoAction::Handover;
    CommandLine cl(g_cmdline_buf, sizeof(g_cmdline_buf));
    Status s = build_cmdline(c, handover, kernel, cl);
    trace(handover ? "cmdline (kho)" : "cmdline (cold)", s);
    if (!s && handover) {
        handover = false;
        s = build_cmdline(c, false, kernel, cl);
    }
    CHECK(s.is_ok());  // the fixed entry's options always fit
    Loaded l;
    s = handover ? place(c, true, false, kernel, initrd_total, cl.length(), &l)
                 : place_cold(c, kernel, initrd_total, cl.length(), &l);
    if (!s && handover) {
        handover = false;
        s = build_cmdline(c, false, kernel, cl);
        if (s) s = place_cold(c, kernel, initrd_total, cl.length(), &l);
    }
    trace(handover ? "placed (kho)" : "placed (cold)", s);
    if (!s) return 0;  // halt("placement")
    boot(c, l, handover, kernel, cl, initrd_total);
    return 0;
}
