#include "inspect.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "loader/kho_fdt_reader.h"
#include "loader/protected_set.h"
#include "sparse_ram.h"

namespace kho::tools {
namespace {

struct Block {
    uint64_t phys;
    uint64_t size;
    unsigned order;
};

// Keeps every block as the map encodes it (for the listing) and feeds the
// protected set at the same time.
class RecordingSink : public PreservedMemorySink {
public:
    explicit RecordingSink(RangeSet& protect) : protect_(protect) {}
    Status blocks(uint64_t phys, unsigned order, uint64_t count) override {
        uint64_t size = 4096ull << order;
        for (uint64_t i = 0; i < count; ++i) blocks_.push_back(Block{phys + i * size, size, order});
        return protect_.add(phys, phys + count * size);
    }
    Status metadata(uint64_t phys, uint64_t size) override {
        Range r = page_round_out(phys, phys + size);
        for (uint64_t p = r.start; p < r.end; p += 4096) pages_.push_back(p);
        return protect_.add(r);
    }
    std::vector<Block> blocks_;
    std::vector<uint64_t> pages_;

private:
    RangeSet& protect_;
};

int usage() {
    std::fprintf(stderr,
                 "usage: khotool inspect --fdt PHYS --ram FILE[@BASE] [--ram FILE[@BASE] ...]\n"
                 "                       [--v1-bitmaps auto|512|page] [--json]\n");
    return 2;
}

bool parse_u64(const char* s, uint64_t* out) {
    char* end = nullptr;
    errno = 0;
    *out = std::strtoull(s, &end, 0);
    return *s && !*end && !errno;
}

void print_json(const KhoState& st, const RecordingSink& rec, const RangeSet& protect) {
    std::printf("{\"compatible\": \"%s\", \"fdt\": %llu, \"memory_map\": %llu,\n", st.compatible,
                (unsigned long long)st.fdt_addr, (unsigned long long)st.memory_map);
    std::printf(" \"subnodes\": {");
    for (size_t i = 0; i < st.subnode_count; ++i) {
        const KhoSubnode& s = st.subnodes[i];
        const char* addr_prop =
            abi::has_sub_fdt_prop(st.version) ? abi::kPropSubFdtV1 : abi::kPropPreservedData;
        std::printf("%s\"%s\": {\"%s\": %llu", i ? ", " : "", s.name, addr_prop,
                    (unsigned long long)s.blob_phys);
        if (s.has_blob_size)
            std::printf(", \"%s\": %llu", abi::kPropBlobSize, (unsigned long long)s.blob_size);
        std::printf("}");
    }
    std::printf("},\n \"blocks\": [");
    for (size_t i = 0; i < rec.blocks_.size(); ++i)
        std::printf("%s[%llu, %llu]", i ? ", " : "", (unsigned long long)rec.blocks_[i].phys,
                    (unsigned long long)rec.blocks_[i].size);
    std::printf("],\n \"metadata_pages\": [");
    for (size_t i = 0; i < rec.pages_.size(); ++i)
        std::printf("%s%llu", i ? ", " : "", (unsigned long long)rec.pages_[i]);
    std::printf("],\n \"protect\": [");
    for (size_t i = 0; i < protect.size(); ++i)
        std::printf("%s[%llu, %llu]", i ? ", " : "", (unsigned long long)protect[i].start,
                    (unsigned long long)protect[i].end);
    std::printf("]}\n");
}

void print_text(const KhoState& st, const RecordingSink& rec, const RangeSet& protect,
                const ProtectStats& stats) {
    std::printf("KHO state at 0x%llx: %s, preserved-memory-map 0x%llx\n",
                (unsigned long long)st.fdt_addr, st.compatible, (unsigned long long)st.memory_map);
    if (st.version == abi::KhoVersion::V1)
        std::printf("  kho-v1 bitmaps: %s\n",
                    stats.v1_layout == abi::v1::BitmapLayout::Page ? "page-sized (6.17.9+)"
                                                                   : "512-byte (6.16-6.17.8)");
    std::printf("  sub-nodes: %zu\n", st.subnode_count);
    for (size_t i = 0; i < st.subnode_count; ++i) {
        const KhoSubnode& s = st.subnodes[i];
        std::printf("    %-20s blob 0x%llx, %llu bytes%s\n", s.name, (unsigned long long)s.blob_phys,
                    (unsigned long long)s.blob_size,
                    s.has_blob_size ? "" : abi::has_sub_fdt_prop(st.version) ? " (sub-FDT totalsize)"
                                                                              : " (assumed)");
    }
    uint64_t bytes = 0;
    uint64_t per_order[64] = {};
    for (const Block& b : rec.blocks_) {
        bytes += b.size;
        ++per_order[b.order & 63];
    }
    std::printf("  preserved blocks: %zu, %llu bytes\n", rec.blocks_.size(),
                (unsigned long long)bytes);
    for (unsigned o = 0; o < 64; ++o)
        if (per_order[o])
            std::printf("    order %2u: %llu\n", o, (unsigned long long)per_order[o]);
    std::printf("  map pages: %llu, leaf/bitmap pages: %llu\n", (unsigned long long)stats.map_pages,
                (unsigned long long)stats.leaf_pages);
    std::printf("  protect: %zu ranges, %llu bytes\n", protect.size(),
                (unsigned long long)protect.total_bytes());
    const size_t shown = protect.size() < 32 ? protect.size() : 32;
    for (size_t i = 0; i < shown; ++i)
        std::printf("    0x%012llx-0x%012llx\n", (unsigned long long)protect[i].start,
                    (unsigned long long)protect[i].end);
    if (shown < protect.size()) std::printf("    ... %zu more\n", protect.size() - shown);
}

}  // namespace

int khotool_inspect(int argc, char** argv) {
    SparseRam ram;
    uint64_t fdt = 0;
    bool have_fdt = false, json = false, have_ram = false;
    ProtectOptions options;
    for (int i = 0; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--json") {
            json = true;
        } else if (a == "--fdt" && i + 1 < argc) {
            if (!parse_u64(argv[++i], &fdt)) return usage();
            have_fdt = true;
        } else if (a == "--ram" && i + 1 < argc) {
            std::string err = ram.add_spec(argv[++i]);
            if (!err.empty()) {
                std::fprintf(stderr, "khotool: error io: %s\n", err.c_str());
                return 1;
            }
            have_ram = true;
        } else if (a == "--v1-bitmaps" && i + 1 < argc) {
            std::string m = argv[++i];
            if (m == "auto") options.v1_bitmaps = V1BitmapMode::Auto;
            else if (m == "512") options.v1_bitmaps = V1BitmapMode::Bytes512;
            else if (m == "page") options.v1_bitmaps = V1BitmapMode::Page;
            else return usage();
        } else {
            return usage();
        }
    }
    if (!have_fdt || !have_ram) return usage();

    auto state = std::make_unique<KhoState>();
    Status s = read_kho_fdt(ram, fdt, state.get());
    // Host capacities: large enough for 64 GiB of sparse order-0 pages;
    // the arrays are left uninitialised so untouched pages cost nothing.
    constexpr size_t kRanges = size_t(1) << 24;
    constexpr size_t kVisitedSlots = size_t(1) << 21;
    std::unique_ptr<Range[]> storage(new Range[kRanges]);
    std::unique_ptr<uint64_t[]> slots(new uint64_t[kVisitedSlots]);
    RangeSet protect(storage.get(), kRanges);
    PageSet visited(slots.get(), kVisitedSlots);
    RecordingSink rec(protect);
    ProtectStats stats;
    if (s) s = collect_protected(ram, *state, options, visited, rec, protect, &stats);
    if (!s) {
        std::fprintf(stderr, "khotool: error %s: %s\n", err_name(s.code()), s.message());
        return 1;
    }
    std::sort(rec.blocks_.begin(), rec.blocks_.end(),
              [](const Block& a, const Block& b) { return a.phys < b.phys; });
    std::sort(rec.pages_.begin(), rec.pages_.end());
    rec.pages_.erase(std::unique(rec.pages_.begin(), rec.pages_.end()), rec.pages_.end());
    if (json)
        print_json(*state, rec, protect);
    else
        print_text(*state, rec, protect, stats);
    return 0;
}

}  // namespace kho::tools
