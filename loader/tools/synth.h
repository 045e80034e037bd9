// `khotool synth`: builds a synthetic KHO state as a previous kernel would
// have left it in RAM, so that a boot scenario can start from any state:
// the root FDT, the preserved-memory map (kho-v1 chunk lists with either
// bitmap size, or the kho-v2..v4 radix tree), scratch regions, and many
// preserved blocks of chosen orders above and below 4 GiB, some touching
// scratch edges, filled with the test pattern and described by a test
// manifest (test_kernel/shared/test_manifest.h) that test_kernel checks
// block by block. Also the multikernel-v1 FDT.
//
// The state is made by the same builder test_kernel's producer mode uses
// (test_kernel/shared/state_builder.h: edge blocks, manifest, map, root
// FDT), whose encodings come from the ABI description (docs/kho-abi.md 3,
// 4, 5, 10), not from the loader's decoders, so a decoder bug cannot
// cancel out. What stays here: option checks, where ordinary blocks go
// (clustered runs), the multikernel-v1 FDT.
//
// Output (synth_output.cpp): RAM blob files for QEMU's
// `-device loader,file=,addr=,force-raw=on`, the handover descriptor and
// the equivalent boot entry keys, the expected block list, state.json and
// state.sh.
#pragma once
#include <stdint.h>

#include <array>
#include <map>
#include <string>
#include <vector>

#include "abi/kho_fdt.h"
#include "abi/kho_scratch.h"
#include "test_kernel/shared/test_manifest.h"

int khotool_synth(int argc, char** argv);

namespace kho::synth {

inline constexpr uint64_t kPage = 4096;

struct Range {
    uint64_t start, end;
};

enum class Format { V1Page, V1Bytes512, V2, V3, V4, Multikernel };
bool parse_format(const std::string& name, Format* out);
const char* format_name(Format f);
abi::KhoVersion format_version(Format f);

struct Options {
    Format format = Format::V4;
    uint64_t blocks = 2000;
    unsigned min_order = 0, max_order = 10;
    bool each_order = true;           // at least one block of every order in range
    unsigned full_max_order = 4;      // fill blocks up to this order completely, larger: edges
    uint64_t seed = 1;
    unsigned cluster = 16;            // mean run of adjacent blocks between gaps
    bool edge_blocks = true;          // blocks touching every scratch edge
    // Placement order: as drawn (orders interleaved, so natural alignment
    // leaves holes between blocks: many separate ranges), or largest order
    // first (holes only at cluster gaps: few ranges).
    bool by_order = false;
    // Defaults for q35 with -m 3G (RAM 0-2 GiB and 4-5 GiB), clear of what
    // OVMF writes while booting (docs/firmware-facts.md section 2).
    std::vector<abi::KhoScratch> scratch = {{0x40000000, 64ull << 20}, {0x120000000, 64ull << 20}};
    std::vector<Range> arenas = {{0x10000000, 0x70000000}, {0x100000000, 0x140000000}};
};

using Page = std::array<uint64_t, 512>;

struct State {
    Format format = Format::V4;
    uint64_t fdt = 0;          // root FDT page
    uint64_t map_root = 0;     // first chunk / radix root (0 for multikernel)
    uint64_t manifest = 0;     // manifest bytes (inside the sub-FDT for kho-v1)
    uint64_t manifest_size = 0;
    uint64_t blob = 0, blob_size = 0;  // the sub-node's blob (manifest or sub-FDT)
    std::vector<abi::KhoScratch> scratch;
    std::vector<tk::manifest::Entry> entries;   // data blocks, sorted by phys
    struct MapBlock {
        uint64_t phys;
        unsigned order;
        const char* kind;  // "data", "fdt", "manifest"
    };
    std::vector<MapBlock> map_blocks;           // everything the map lists, sorted
    std::map<uint64_t, Page> pages;             // metadata pages (FDT, manifest, map), by phys
    uint64_t table_pages = 0, leaf_pages = 0;   // map statistics (v1: chunks, bitmaps)
    uint64_t written_bytes = 0;                 // pattern bytes in blocks
};

// Builds the state in memory; returns "" or an error message.
std::string build_state(const Options& o, State* s);

// The bytes of RAM page `page` as the state leaves it (metadata or
// pattern), for tests and for the blob writer; false if the state does not
// define that page.
bool page_bytes(const State& s, uint64_t page, uint8_t out[4096]);

struct Blob {
    std::string file;
    uint64_t addr, size;
};
// Writes the output directory; returns "" or an error message.
std::string write_output(const State& s, const std::string& dir, std::vector<Blob>* blobs);

}  // namespace kho::synth
