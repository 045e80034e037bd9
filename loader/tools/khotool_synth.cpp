// `khotool synth` command line (synth.h has the what and why).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cli.h"
#include "synth.h"

namespace {

const char kUsage[] =
    "usage: khotool synth --out DIR [options]\n"
    "  --format F          kho-v4 (default), kho-v3, kho-v2, kho-v1 (PAGE_SIZE bitmaps),\n"
    "                      kho-v1-512 (512-byte bitmaps), multikernel-v1\n"
    "  --blocks N          preserved data blocks (default 2000)\n"
    "  --orders MIN-MAX    block orders (default 0-10); every order in range appears\n"
    "  --no-each-order     draw orders only at random (geometric, small ones likely)\n"
    "  --full-order K      fill blocks up to order K completely (default 4); larger\n"
    "                      blocks get their first and last page\n"
    "  --seed S            pattern and layout seed (default 1)\n"
    "  --cluster N         mean run of adjacent blocks between gaps (default 16, 0 = no gaps)\n"
    "  --no-edge-blocks    do not place blocks against scratch edges\n"
    "  --by-order          place larger orders first (few coalesced ranges) instead of\n"
    "                      interleaving orders (alignment holes: many ranges)\n"
    "  --scratch A:S[,A:S] scratch regions (default 0x40000000:0x4000000,0x120000000:0x4000000)\n"
    "  --arena S-E[,S-E]   where blocks and metadata may go (default\n"
    "                      0x10000000-0x70000000,0x100000000-0x140000000: q35 -m 3G\n"
    "                      RAM clear of what OVMF writes; the first arena's start\n"
    "                      holds the FDT, manifest and map pages)\n"
    "  -h, --help          this text\n"
    "Writes blob-N.bin, descriptor.bin, blocks.txt, metadata.txt, state.json, state.sh.\n";

using kho::tools::cli::parse_u64;

// "A<sep>B,A<sep>B,..."
template <class F>
bool parse_pairs(const std::string& s, char sep, F add) {
    size_t i = 0;
    while (i <= s.size()) {
        size_t j = s.find(',', i);
        if (j == std::string::npos) j = s.size();
        std::string item = s.substr(i, j - i);
        size_t k = item.find(sep);
        uint64_t a, b;
        if (k == std::string::npos || !parse_u64(item.substr(0, k), &a) || !parse_u64(item.substr(k + 1), &b))
            return false;
        add(a, b);
        i = j + 1;
    }
    return true;
}

// Failures after parsing (building or writing the state).
int fail(const std::string& msg) {
    std::fprintf(stderr, "khotool synth: %s\n", msg.c_str());
    return 2;
}

enum LongOnly {
    kOptOut = 0x100,
    kOptFormat,
    kOptBlocks,
    kOptOrders,
    kOptNoEachOrder,
    kOptFullOrder,
    kOptSeed,
    kOptCluster,
    kOptNoEdgeBlocks,
    kOptByOrder,
    kOptScratch,
    kOptArena,
};

// The value of one option into `o`: "" or what is wrong with it.
std::string take_option(int id, const std::string& v, kho::synth::Options* o, std::string* out) {
    uint64_t n = 0;
    switch (id) {
    case kOptOut: *out = v; break;
    case kOptFormat:
        if (!kho::synth::parse_format(v, &o->format)) return "bad --format " + v;
        break;
    case kOptBlocks:
        if (!parse_u64(v, &n) || n > (1u << 20)) return "bad --blocks " + v;
        o->blocks = n;
        break;
    case kOptOrders: {
        uint64_t lo = 0, hi = 0;
        if (!parse_pairs(v, '-', [&](uint64_t x, uint64_t y) { lo = x, hi = y; }) || lo > hi || hi > 40)
            return "bad --orders " + v;
        o->min_order = unsigned(lo), o->max_order = unsigned(hi);
        break;
    }
    case kOptNoEachOrder: o->each_order = false; break;
    case kOptFullOrder:
        if (!parse_u64(v, &n) || n > 40) return "bad --full-order " + v;
        o->full_max_order = unsigned(n);
        break;
    case kOptSeed:
        if (!parse_u64(v, &o->seed)) return "bad --seed " + v;
        break;
    case kOptCluster:
        if (!parse_u64(v, &n) || n > 1000000) return "bad --cluster " + v;
        o->cluster = unsigned(n);
        break;
    case kOptNoEdgeBlocks: o->edge_blocks = false; break;
    case kOptByOrder: o->by_order = true; break;
    case kOptScratch:
        o->scratch.clear();
        if (!parse_pairs(v, ':', [&](uint64_t x, uint64_t y) { o->scratch.push_back({x, y}); }))
            return "bad --scratch " + v;
        break;
    case kOptArena: {
        o->arenas.clear();
        bool ok = parse_pairs(v, '-', [&](uint64_t x, uint64_t y) { o->arenas.push_back({x, y}); });
        for (const auto& r : o->arenas) ok = ok && r.end > r.start;
        if (!ok) return "bad --arena " + v;
        break;
    }
    }
    return "";
}

int parse_options(int argc, char** argv, kho::synth::Options* o, std::string* out) {
    static const option kLong[] = {
        {"out", required_argument, nullptr, kOptOut},
        {"format", required_argument, nullptr, kOptFormat},
        {"blocks", required_argument, nullptr, kOptBlocks},
        {"orders", required_argument, nullptr, kOptOrders},
        {"no-each-order", no_argument, nullptr, kOptNoEachOrder},
        {"full-order", required_argument, nullptr, kOptFullOrder},
        {"seed", required_argument, nullptr, kOptSeed},
        {"cluster", required_argument, nullptr, kOptCluster},
        {"no-edge-blocks", no_argument, nullptr, kOptNoEdgeBlocks},
        {"by-order", no_argument, nullptr, kOptByOrder},
        {"scratch", required_argument, nullptr, kOptScratch},
        {"arena", required_argument, nullptr, kOptArena},
        {nullptr, 0, nullptr, 0},
    };
    int rc = kho::tools::cli::parse({"synth", kUsage, kLong}, argc, argv, [&](int id, const std::string& v) {
        return take_option(id, v, o, out);
    });
    if (rc == kho::tools::cli::kRun && out->empty()) return kho::tools::cli::usage_error("synth", "--out is required");
    return rc;
}

}  // namespace

int khotool_synth(int argc, char** argv) {
    using namespace kho::synth;
    Options o;
    std::string out;
    int rc = parse_options(argc, argv, &o, &out);
    if (rc != kho::tools::cli::kRun) return rc;

    auto t0 = std::chrono::steady_clock::now();
    State s;
    std::string err = build_state(o, &s);
    if (!err.empty()) return fail(err);
    std::vector<Blob> blobs;
    err = write_output(s, out, &blobs);
    if (!err.empty()) return fail(err);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    uint64_t blob_bytes = 0;
    for (const auto& b : blobs) blob_bytes += b.size;
    std::printf("synth format=%s blocks=%zu map-blocks=%zu tables=%llu leaves=%llu written=%llu "
                "fdt=0x%llx blobs=%zu blob-bytes=%llu seconds=%.2f out=%s\n",
                format_name(s.format), s.entries.size(), s.map_blocks.size(),
                (unsigned long long)s.table_pages, (unsigned long long)s.leaf_pages,
                (unsigned long long)s.written_bytes, (unsigned long long)s.fdt, blobs.size(),
                (unsigned long long)blob_bytes, secs, out.c_str());
    return 0;
}
