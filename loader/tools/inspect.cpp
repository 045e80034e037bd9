#include "inspect.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "abi/efi_memory.h"
#include "cli.h"
#include "json_writer.h"
#include "loader/kho_fdt_reader.h"
#include "loader/memory_plan.h"
#include "loader/loader_limits.h"
#include "loader/protected_set.h"
#include "sparse_ram.h"

namespace kho::tools {
namespace {

constexpr uint64_t kPage = 4096;
// khoboot.efi's fixed capacities (loader/loader_limits.h), for
// --loader-limits: a state inspect accepts under them fits the loader too.
// The loader sizes its exact protected set from the state, so only the map
// pages it may visit are bounded.
constexpr size_t kLoaderVisitedSlots = limits::kVisitedPages;
// Without --max-ranges: 256 MiB of ranges (64 GiB of isolated order-0
// pages). Storage starts small and doubles, so a state costs what its
// coalesced ranges need, not what this allows.
constexpr size_t kDefaultMaxRanges = size_t(1) << 24;
constexpr size_t kFirstRanges = 4096;
constexpr size_t kFirstVisitedSlots = 4096;

const char kUsage[] =
    "usage: khotool inspect --fdt PHYS --ram FILE[@BASE] [--ram FILE[@BASE] ...] [options]\n"
    "\n"
    "Checks a KHO state held in RAM dumps the way khoboot does before a handover\n"
    "(root FDT, sub-nodes, preserved-memory map, protected set, memory plan) and\n"
    "shows what it holds. Exit 0: khoboot would accept it; 1: it would not (one\n"
    "line \"khotool: error KIND: WHAT\" on stderr, nothing on stdout); 2: usage.\n"
    "\n"
    "  --fdt PHYS             physical address of the root KHO FDT page\n"
    "  --ram FILE[@BASE]      a raw RAM dump (QEMU pmemsave) holding [BASE, BASE+size);\n"
    "                         BASE defaults to 0. Repeatable\n"
    "  --declare-ram ADDR:SIZE  RAM that exists but was not dumped: preserved blocks\n"
    "                         may lie there; a map page or FDT there cannot be read\n"
    "                         (out-of-ram). Repeatable\n"
    "  --scratch ADDR:SIZE[,ADDR:SIZE...]  the state's scratch regions (khoboot reads\n"
    "                         them from the handover descriptor): refuse preserved\n"
    "                         memory inside them and scratch that is not RAM.\n"
    "                         Without it that check is skipped. Repeatable\n"
    "  --v1-bitmaps auto|512|page  kho-v1 bitmap size (default auto)\n"
    "  --max-ranges N         capacity of the protected range set (default 16777216)\n"
    "  --loader-limits        khoboot.efi's fixed capacities before protection\n"
    "                         (loader/loader_limits.h): 32768 map pages\n"
    "  --json                 one JSON object on stdout (README.md, khotool)\n"
    "  -h, --help             this text\n"
    "\n"
    "The memory plan sees the --ram and --declare-ram ranges as free conventional\n"
    "memory and nothing else: a preserved block, map page, FDT or sub-blob outside\n"
    "them is a conflict (owner=not-in-map), as it is for khoboot on a real firmware\n"
    "map.\n";

// --- errors -----------------------------------------------------------------

int fail(Err code, const std::string& what) {
    std::fprintf(stderr, "khotool: error %s: %s\n", err_name(code), printable(what).c_str());
    return 1;
}

int fail(const Status& s, const std::string& hint = "") {
    return fail(s.code(), std::string(s.message()) + hint);
}

// --- options ----------------------------------------------------------------

struct RamFile {
    std::string path;
    uint64_t base;
};

struct Options {
    uint64_t fdt = 0;
    bool have_fdt = false;
    std::vector<RamFile> ram;
    std::vector<Range> declared;
    std::vector<Range> scratch;
    bool have_scratch = false;
    ProtectOptions protect;
    size_t max_ranges = kDefaultMaxRanges;
    bool loader_limits = false;
    bool json = false;
};

using cli::parse_u64;

// "ADDR:SIZE"; false if malformed or if ADDR + SIZE wraps.
bool parse_range(const std::string& s, Range* out) {
    size_t colon = s.find(':');
    uint64_t addr, size;
    if (colon == std::string::npos || !parse_u64(s.substr(0, colon), &addr) ||
        !parse_u64(s.substr(colon + 1), &size) || addr + size < addr)
        return false;
    *out = Range{addr, addr + size};
    return true;
}

// "FILE[@BASE]", as SparseRam::add_spec reads it.
bool parse_ram(const std::string& s, RamFile* out) {
    out->path = s;
    out->base = 0;
    size_t at = s.rfind('@');
    if (at == std::string::npos) return !s.empty();
    out->path = s.substr(0, at);
    return !out->path.empty() && parse_u64(s.substr(at + 1), &out->base);
}

enum LongOnly {
    kOptFdt = 0x100,
    kOptRam,
    kOptDeclareRam,
    kOptScratch,
    kOptV1Bitmaps,
    kOptMaxRanges,
    kOptLoaderLimits,
    kOptJson,
};

// The value of one option into `o`: "" or what is wrong with it.
std::string take_option(int id, const std::string& arg, Options* o) {
    switch (id) {
    case kOptFdt:
        if (!parse_u64(arg, &o->fdt)) return "--fdt " + arg + ": not a number";
        o->have_fdt = true;
        break;
    case kOptRam: {
        RamFile f;
        if (!parse_ram(arg, &f)) return "--ram " + arg + ": want FILE[@BASE]";
        o->ram.push_back(f);
        break;
    }
    case kOptDeclareRam: {
        Range r{0, 0};
        if (!parse_range(arg, &r)) return "--declare-ram " + arg + ": want ADDR:SIZE";
        o->declared.push_back(r);
        break;
    }
    case kOptScratch:
        for (size_t pos = 0;;) {
            size_t comma = arg.find(',', pos);
            Range r;
            if (!parse_range(arg.substr(pos, comma == std::string::npos ? comma : comma - pos), &r))
                return "--scratch " + arg + ": want ADDR:SIZE[,ADDR:SIZE...]";
            o->scratch.push_back(r);
            if (comma == std::string::npos) break;
            pos = comma + 1;
        }
        o->have_scratch = true;
        break;
    case kOptV1Bitmaps:
        if (arg == "auto") o->protect.v1_bitmaps = V1BitmapMode::Auto;
        else if (arg == "512") o->protect.v1_bitmaps = V1BitmapMode::Bytes512;
        else if (arg == "page") o->protect.v1_bitmaps = V1BitmapMode::Page;
        else return "--v1-bitmaps " + arg + ": want auto, 512 or page";
        break;
    case kOptMaxRanges: {
        uint64_t v;
        if (!parse_u64(arg, &v) || v == 0 || v > (uint64_t(1) << 32))
            return "--max-ranges " + arg + ": want 1..4294967296";
        o->max_ranges = size_t(v);
        break;
    }
    case kOptLoaderLimits: o->loader_limits = true; break;
    case kOptJson: o->json = true; break;
    }
    return "";
}

// Returns cli::kRun to go on, else the exit code (help: 0; usage error: 2).
int parse_options(int argc, char** argv, Options* o) {
    static const option kLong[] = {
        {"fdt", required_argument, nullptr, kOptFdt},
        {"ram", required_argument, nullptr, kOptRam},
        {"declare-ram", required_argument, nullptr, kOptDeclareRam},
        {"scratch", required_argument, nullptr, kOptScratch},
        {"v1-bitmaps", required_argument, nullptr, kOptV1Bitmaps},
        {"max-ranges", required_argument, nullptr, kOptMaxRanges},
        {"loader-limits", no_argument, nullptr, kOptLoaderLimits},
        {"json", no_argument, nullptr, kOptJson},
        {nullptr, 0, nullptr, 0},
    };
    int rc = cli::parse({"inspect", kUsage, kLong}, argc, argv,
                        [o](int id, const std::string& arg) { return take_option(id, arg, o); });
    if (rc != cli::kRun) return rc;
    if (!o->have_fdt) return cli::usage_error("inspect", "--fdt is required");
    if (o->ram.empty()) return cli::usage_error("inspect", "at least one --ram is required");
    return cli::kRun;
}

// --- the machine inspect models ------------------------------------------

// Physical memory as khoboot would see it on a firmware whose map lists
// exactly the given RAM, in whole pages: RAM = dumps + declared, bytes only
// where a dump holds them (EfiPhysMem reads only what the map calls RAM).
class InspectMem : public PhysMem {
public:
    InspectMem(const SparseRam& dumps, const RangeSet& ram) : dumps_(dumps), ram_(ram) {}
    const uint8_t* view(uint64_t addr, uint64_t len) const override {
        return is_ram(addr, len) ? dumps_.view(addr, len) : nullptr;
    }
    bool is_ram(uint64_t addr, uint64_t len) const override {
        if (len == 0) len = 1;
        return addr + len > addr && ram_.contains(addr, addr + len);
    }

private:
    const SparseRam& dumps_;
    const RangeSet& ram_;
};

struct Machine {
    SparseRam dumps;
    std::vector<Range> ram_storage;
    RangeSet ram{nullptr, 0};                     // normalized, whole pages
    std::vector<abi::efi::MemoryDescriptor> map;  // `ram` as Conventional memory
    uint64_t dumped_pages = 0;
};

// Returns "" or what went wrong.
std::string build_machine(const Options& o, Machine* m) {
    std::vector<Range> ranges;
    for (const RamFile& f : o.ram) {
        std::string err = m->dumps.add_file(f.path, f.base);  // refuses wrapping and overlaps
        if (!err.empty()) return err;
        struct stat st;
        if (stat(f.path.c_str(), &st) != 0) return f.path + ": " + std::strerror(errno);
        uint64_t size = uint64_t(st.st_size);
        ranges.push_back(Range{f.base, f.base + size});
        m->dumped_pages += size / kPage + 2;  // + partial pages at either end
    }
    ranges.insert(ranges.end(), o.declared.begin(), o.declared.end());
    // A firmware map describes whole pages: round each range inward.
    m->ram_storage.resize(ranges.size() + 1);
    m->ram = RangeSet(m->ram_storage.data(), m->ram_storage.size());
    for (const Range& r : ranges) {
        uint64_t start = (r.start + kPage - 1) & ~(kPage - 1);
        uint64_t end = r.end & ~(kPage - 1);
        if (start < r.start || end <= start) continue;  // no whole page (or rounding wrapped)
        Status s = m->ram.add(start, end);
        if (!s) return s.message();
    }
    m->ram.normalize();
    for (const Range& r : m->ram) {
        abi::efi::MemoryDescriptor d{};
        d.type = abi::efi::kConventionalMemory;
        d.physical_start = r.start;
        d.number_of_pages = r.size() / kPage;
        d.attribute = abi::efi::kMemoryWB;
        m->map.push_back(d);
    }
    return "";
}

// --- decoding -------------------------------------------------------------

struct Capacities {
    size_t ranges, max_ranges;
    size_t visited, max_visited;
};

// Sits in front of the loader's own sink (RangeSetSink into the protected
// set, as efi/main.cpp protect_state() uses it): counts blocks per order
// and, in the listing pass, writes each block to the JSON "blocks" array
// and remembers the map pages. Blocks are never stored.
class InspectSink : public PreservedMemorySink {
public:
    InspectSink(RangeSet& protect, bool growable, JsonWriter* json, std::vector<uint64_t>* pages)
        : loader_sink_(protect, protect), protect_(protect), growable_(growable), json_(json),
          pages_(pages) {}

    Status blocks(uint64_t phys, unsigned order, uint64_t count) override {
        KHO_TRY(make_room());
        KHO_TRY(loader_sink_.blocks(phys, order, count));
        per_order_[order & 63] += count;
        if (json_) {
            // Output that cannot be written ends the listing (a full disk
            // or a closed pipe need not see millions more blocks).
            if (!json_->ok()) return Status::error(Err::Io, "writing stdout failed");
            const uint64_t size = order < 52 ? kPage << order : 0;
            for (uint64_t i = 0; i < count; ++i) {
                json_->begin_array();
                json_->number(phys + i * size);
                json_->number(size);
                json_->end_array();
            }
        }
        return Status::ok();
    }

    Status metadata(uint64_t phys, uint64_t size) override {
        KHO_TRY(make_room());
        KHO_TRY(loader_sink_.metadata(phys, size));
        if (pages_) {
            Range r{0, 0};
            KHO_TRY(map_page_range(phys, size, kPage, &r));  // loader_sink_ checked it already
            for (uint64_t p = r.start; p < r.end; p += kPage) pages_->push_back(p);
        }
        return Status::ok();
    }

    const uint64_t* per_order() const { return per_order_; }
    bool out_of_room() const { return out_of_room_; }

private:
    // While the storage may still grow: when the set is full, coalesce it
    // (as RangeSet itself would) and give up if that leaves it more than
    // three quarters full; the caller retries with twice the storage. A
    // set that stays nearly full would otherwise be re-sorted for every
    // range added.
    Status make_room() {
        if (!growable_ || protect_.size() < protect_.capacity()) return Status::ok();
        protect_.normalize();
        if (protect_.size() * 4 <= protect_.capacity() * 3) return Status::ok();
        out_of_room_ = true;
        return Status::error(Err::Capacity, "protected set needs more than %zu ranges",
                             protect_.capacity());
    }

    RangeSetSink loader_sink_;
    RangeSet& protect_;
    bool growable_;
    JsonWriter* json_;
    std::vector<uint64_t>* pages_;
    uint64_t per_order_[64] = {};
    bool out_of_room_ = false;
};

struct Decoded {
    std::unique_ptr<Range[]> storage;
    RangeSet protect{nullptr, 0};
    ProtectStats stats;
    uint64_t per_order[64] = {};
};

// collect_protected() as the loader calls it, with storage that starts
// small and doubles up to the limits (a retry decodes from the start: the
// decoders are pure functions of RAM). `json`/`pages` only for a pass whose
// capacities already succeeded (it must not be retried).
Status decode(const PhysMem& mem, const KhoState& state, const Options& o, Capacities* caps,
              JsonWriter* json, std::vector<uint64_t>* pages, Decoded* out, std::string* hint) {
    for (;;) {
        // Left uninitialised: RangeSet writes before it reads, PageSet
        // clears its slots itself.
        std::unique_ptr<Range[]> storage(new Range[caps->ranges]);
        std::unique_ptr<uint64_t[]> slots(new uint64_t[caps->visited]);
        RangeSet protect(storage.get(), caps->ranges);
        PageSet visited(slots.get(), caps->visited);
        InspectSink sink(protect, caps->ranges < caps->max_ranges, json, pages);
        ProtectStats stats;
        Status s = collect_protected(mem, state, o.protect, visited, sink, protect, &stats);
        if (s) {
            out->storage = std::move(storage);
            out->protect = protect;
            out->stats = stats;
            std::copy(sink.per_order(), sink.per_order() + 64, out->per_order);
            return s;
        }
        if (s.code() != Err::Capacity || json) return s;
        const bool visited_full = (visited.size() + 1) * 4 > visited.capacity() * 3;
        if (visited_full && caps->visited < caps->max_visited) {
            caps->visited *= 2;
            continue;
        }
        const bool ranges_full = sink.out_of_room() || protect.size() >= protect.capacity();
        if (ranges_full && caps->ranges < caps->max_ranges) {
            caps->ranges = std::min(caps->ranges * 2, caps->max_ranges);
            continue;
        }
        if (ranges_full)
            *hint = " (--max-ranges " + std::to_string(caps->max_ranges) + ")";
        else if (visited_full && o.loader_limits)
            *hint = " (--loader-limits: khoboot.efi's 32768 slots)";
        return s;
    }
}

// --- the memory plan ------------------------------------------------------

struct PlanSummary {
    size_t allocate_ranges = 0;
    uint64_t allocate_bytes = 0;
    size_t scratch_free_ranges = 0;
    uint64_t scratch_free_bytes = 0;
};


// make_memory_plan() against the modelled firmware map, and the verdicts
// efi/main.cpp protect_state() draws from it.
Status check_plan(const Machine& m, const RangeSet& protect, const RangeSet& scratch,
                  PlanSummary* sum) {
    FirmwareMemoryMap map{reinterpret_cast<const uint8_t*>(m.map.data()), m.map.size(),
                          sizeof(abi::efi::MemoryDescriptor)};
    // Bounds: an intersection has at most |a| + |b| ranges; a difference
    // splits each range of the minuend at most once per subtrahend range.
    // `work` holds the firmware's free and RAM sets, then scratch ∩ free.
    // Left uninitialised: a set costs the pages it fills, not its bound.
    const size_t fw = m.map.size() + scratch.size() + 1;
    const size_t n = protect.size() + fw;
    const size_t n_work = 2 * fw, n_allocate = n, n_scratch_free = n, n_overlaps = n;
    std::unique_ptr<Range[]> work(new Range[n_work]), allocate(new Range[n_allocate]),
        scratch_free(new Range[n_scratch_free]), overlaps(new Range[n_overlaps]);
    RangeSet allocate_set(allocate.get(), n_allocate),
        scratch_free_set(scratch_free.get(), n_scratch_free),
        overlaps_set(overlaps.get(), n_overlaps);
    Conflict conflicts[8];
    MemoryPlan plan{&allocate_set, &scratch_free_set, &overlaps_set, conflicts,
                    sizeof(conflicts) / sizeof(conflicts[0])};
    KHO_TRY(make_memory_plan(map, protect, scratch, work.get(), n_work, plan));
    KHO_TRY(plan_verdict(plan));  // the loader's own verdict (memory_plan.h)
    sum->allocate_ranges = allocate_set.size();
    sum->allocate_bytes = allocate_set.total_bytes();
    sum->scratch_free_ranges = scratch_free_set.size();
    sum->scratch_free_bytes = scratch_free_set.total_bytes();
    return Status::ok();
}

// --- output ---------------------------------------------------------------

const char* blob_addr_prop(const KhoState& st) {
    return abi::has_sub_fdt_prop(st.version) ? abi::kPropSubFdtV1 : abi::kPropPreservedData;
}

void print_text(const KhoState& st, const Decoded& d, const Options& o, const PlanSummary& plan) {
    std::printf("KHO state at 0x%llx: %s, preserved-memory-map 0x%llx\n",
                (unsigned long long)st.fdt_addr, st.compatible, (unsigned long long)st.memory_map);
    if (st.version == abi::KhoVersion::V1)
        std::printf("  kho-v1 bitmaps: %s\n",
                    d.stats.v1_layout == abi::v1::BitmapLayout::Page ? "page-sized (6.17.9+)"
                                                                     : "512-byte (6.16-6.17.8)");
    std::printf("  sub-nodes: %zu\n", st.subnode_count);
    for (size_t i = 0; i < st.subnode_count; ++i) {
        const KhoSubnode& s = st.subnodes[i];
        std::printf("    %-20s blob 0x%llx, %llu bytes%s\n", printable(s.name).c_str(),
                    (unsigned long long)s.blob_phys, (unsigned long long)s.blob_size,
                    s.has_blob_size ? "" : abi::has_sub_fdt_prop(st.version) ? " (sub-FDT totalsize)"
                                                                              : " (assumed)");
    }
    uint64_t bytes = 0;
    for (unsigned k = 0; k < 52; ++k) bytes += d.per_order[k] * (kPage << k);
    std::printf("  preserved blocks: %llu, %llu bytes\n", (unsigned long long)d.stats.blocks,
                (unsigned long long)bytes);
    for (unsigned k = 0; k < 64; ++k)
        if (d.per_order[k])
            std::printf("    order %2u: %llu\n", k, (unsigned long long)d.per_order[k]);
    std::printf("  map pages: %llu, leaf/bitmap pages: %llu\n",
                (unsigned long long)d.stats.map_pages, (unsigned long long)d.stats.leaf_pages);
    std::printf("  protect: %zu ranges, %llu bytes\n", d.protect.size(),
                (unsigned long long)d.protect.total_bytes());
    const size_t shown = d.protect.size() < 32 ? d.protect.size() : 32;
    for (size_t i = 0; i < shown; ++i)
        std::printf("    0x%012llx-0x%012llx\n", (unsigned long long)d.protect[i].start,
                    (unsigned long long)d.protect[i].end);
    if (shown < d.protect.size()) std::printf("    ... %zu more\n", d.protect.size() - shown);
    std::printf("  memory plan: %zu allocations at address, %llu bytes, no conflicts\n",
                plan.allocate_ranges, (unsigned long long)plan.allocate_bytes);
    if (o.have_scratch)
        std::printf("  scratch: no preserved memory inside; %zu free ranges, %llu bytes\n",
                    plan.scratch_free_ranges, (unsigned long long)plan.scratch_free_bytes);
    else
        std::printf("  scratch: not given (--scratch), overlap check skipped\n");
}

// The --json document. "blocks" is written while the map is decoded a
// second time, in the order the decoder emits them.
int print_json(const InspectMem& mem, const KhoState& st, const Options& o, Capacities caps) {
    JsonWriter w(stdout);
    w.begin_object();
    w.key("compatible");
    w.string(st.compatible);
    w.key("fdt");
    w.number(st.fdt_addr);
    w.key("memory_map");
    w.number(st.memory_map);
    w.key("subnodes");
    w.begin_object();
    for (size_t i = 0; i < st.subnode_count; ++i) {
        const KhoSubnode& s = st.subnodes[i];
        w.key(s.name);
        w.begin_object();
        w.key(blob_addr_prop(st));
        w.number(s.blob_phys);
        if (s.has_blob_size) {
            w.key(abi::kPropBlobSize);
            w.number(s.blob_size);
        }
        w.end_object();
    }
    w.end_object();
    w.key("blocks");
    w.begin_array();
    std::vector<uint64_t> pages;
    Decoded d;
    std::string hint;
    Status s = decode(mem, st, o, &caps, &w, &pages, &d, &hint);
    if (!s) {
        std::fflush(stdout);
        if (!w.ok()) return fail(Err::Io, std::string("writing stdout: ") + std::strerror(errno));
        // The first pass accepted the same bytes: the files changed.
        return fail(s, " (second pass; did the RAM files change?)");
    }
    w.end_array();
    std::sort(pages.begin(), pages.end());
    pages.erase(std::unique(pages.begin(), pages.end()), pages.end());
    w.key("metadata_pages");
    w.begin_array();
    for (uint64_t p : pages) w.number(p);
    w.end_array();
    w.key("protect");
    w.begin_array();
    for (const Range& r : d.protect) {
        w.begin_array();
        w.number(r.start);
        w.number(r.end);
        w.end_array();
    }
    w.end_array();
    w.end_object();
    if (!w.finish()) return fail(Err::Io, std::string("writing stdout: ") + std::strerror(errno));
    return 0;
}

}  // namespace

int khotool_inspect(int argc, char** argv) {
    Options o;
    int rc = parse_options(argc, argv, &o);
    if (rc != cli::kRun) return rc;

    Machine m;
    std::string err = build_machine(o, &m);
    if (!err.empty()) return fail(Err::Io, err);
    InspectMem mem(m.dumps, m.ram);

    auto state = std::make_unique<KhoState>();
    Status s = read_kho_fdt(mem, o.fdt, state.get());
    if (!s) return fail(s);

    Capacities caps;
    caps.max_ranges = o.max_ranges;
    caps.ranges = std::min(kFirstRanges, o.max_ranges);
    if (o.loader_limits) {
        caps.visited = caps.max_visited = kLoaderVisitedSlots;
    } else {
        // Every page the decoders visit (and each page of shared sub-page
        // objects, tagged apart) is a page of the dumps: that bounds the
        // set, kept under three quarters full.
        caps.visited = kFirstVisitedSlots;
        caps.max_visited = kFirstVisitedSlots;
        while (caps.max_visited / 4 * 3 < 2 * m.dumped_pages + 64) caps.max_visited *= 2;
    }
    Decoded d;
    std::string hint;
    s = decode(mem, *state, o, &caps, nullptr, nullptr, &d, &hint);
    if (!s) return fail(s, hint);

    std::vector<Range> scratch_storage(o.scratch.size() + 1);
    RangeSet scratch(scratch_storage.data(), scratch_storage.size());
    for (const Range& r : o.scratch) {
        s = scratch.add(r);
        if (!s) return fail(s);
    }
    scratch.normalize();
    PlanSummary plan;
    s = check_plan(m, d.protect, scratch, &plan);
    if (!s) return fail(s);

    if (o.json) {
        d = Decoded();  // the listing pass allocates its own
        return print_json(mem, *state, o, caps);
    }
    print_text(*state, d, o, plan);
    if (std::fflush(stdout) != 0 || std::ferror(stdout))
        return fail(Err::Io, std::string("writing stdout: ") + std::strerror(errno));
    return 0;
}

}  // namespace kho::tools
