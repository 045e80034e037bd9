// `khotool synth` command line (synth.h has the what and why).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

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
    "Writes blob-N.bin, descriptor.bin, blocks.txt, metadata.txt, state.json, state.sh.\n";

bool parse_u64(const std::string& s, uint64_t* v) {
    if (s.empty()) return false;
    char* end = nullptr;
    errno = 0;
    unsigned long long x = std::strtoull(s.c_str(), &end, 0);
    if (errno || *end) return false;
    *v = x;
    return true;
}

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

int fail(const std::string& msg) {
    std::fprintf(stderr, "khotool synth: %s\n", msg.c_str());
    return 2;
}

}  // namespace

int khotool_synth(int argc, char** argv) {
    using namespace kho::synth;
    Options o;
    std::string out;
    for (int i = 0; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&](std::string* v) {
            if (i + 1 >= argc) return false;
            *v = argv[++i];
            return true;
        };
        std::string v;
        uint64_t n;
        if (a == "-h" || a == "--help") {
            std::fputs(kUsage, stdout);
            return 0;
        } else if (a == "synth" && i == 0) {
            continue;  // tolerate being handed argv with the subcommand name first
        } else if (a == "--out") {
            if (!value(&out)) return fail("--out needs a directory");
        } else if (a == "--format") {
            if (!value(&v) || !parse_format(v, &o.format)) return fail("bad --format " + v);
        } else if (a == "--blocks") {
            if (!value(&v) || !parse_u64(v, &n) || n > (1u << 20)) return fail("bad --blocks " + v);
            o.blocks = n;
        } else if (a == "--orders") {
            uint64_t lo = 0, hi = 0;
            if (!value(&v) || !parse_pairs(v, '-', [&](uint64_t x, uint64_t y) { lo = x, hi = y; }) || lo > hi || hi > 40)
                return fail("bad --orders " + v);
            o.min_order = unsigned(lo), o.max_order = unsigned(hi);
        } else if (a == "--no-each-order") {
            o.each_order = false;
        } else if (a == "--full-order") {
            if (!value(&v) || !parse_u64(v, &n) || n > 40) return fail("bad --full-order " + v);
            o.full_max_order = unsigned(n);
        } else if (a == "--seed") {
            if (!value(&v) || !parse_u64(v, &o.seed)) return fail("bad --seed " + v);
        } else if (a == "--cluster") {
            if (!value(&v) || !parse_u64(v, &n) || n > 1000000) return fail("bad --cluster " + v);
            o.cluster = unsigned(n);
        } else if (a == "--no-edge-blocks") {
            o.edge_blocks = false;
        } else if (a == "--by-order") {
            o.by_order = true;
        } else if (a == "--scratch") {
            o.scratch.clear();
            if (!value(&v) || !parse_pairs(v, ':', [&](uint64_t x, uint64_t y) { o.scratch.push_back({x, y}); }))
                return fail("bad --scratch " + v);
        } else if (a == "--arena") {
            o.arenas.clear();
            bool ok = value(&v) && parse_pairs(v, '-', [&](uint64_t x, uint64_t y) { o.arenas.push_back({x, y}); });
            for (const auto& r : o.arenas) ok = ok && r.end > r.start;
            if (!ok) return fail("bad --arena " + v);
        } else {
            return fail("unknown argument " + a + "\n" + kUsage);
        }
    }
    if (out.empty()) return fail(std::string("--out is required\n") + kUsage);

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
