// An independent producer of KHO states for the host tests, written from
// docs/kho-abi.md (sections 3 to 5), not from the decoders: raw byte
// offsets, its own key/index arithmetic, and libfdt's sequential-write API
// for FDTs (the way a 6.16 producer builds its root FDT). Tests compare what
// the decoders report with the block lists given to this encoder, so the
// two must not share code beyond the ABI constants.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <map>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "loader/preserved_memory.h"
#include "loader/tests/fake_phys_mem.h"

namespace khotest {

// One preserved block: 2^order pages at phys (naturally aligned).
struct Block {
    uint64_t phys;
    unsigned order;
    bool operator==(const Block& o) const { return phys == o.phys && order == o.order; }
    bool operator<(const Block& o) const {
        return phys != o.phys ? phys < o.phys : order < o.order;
    }
};

// Readable gtest failure messages: "0x123456000/o0".
inline void PrintTo(const Block& b, std::ostream* os) {
    *os << "0x" << std::hex << b.phys << std::dec << "/o" << b.order;
}

// ---------------------------------------------------------------------------
// Metadata page allocation.

// Bump allocator of zeroed pages inside one backed region of `mem` (it adds
// the region). Models the producer's page allocator: metadata lands wherever
// the arena says, the tests decide where that is (below/above 4 GiB, inside
// scratch, next to RAM holes).
class PageArena {
public:
    PageArena(FakePhysMem& mem, uint64_t base, uint64_t size, uint64_t page_size = 4096);
    uint64_t alloc_page();
    // `bytes` at `align` (power of two, <= page size); a fresh page when the
    // current one cannot hold it. Used for 512-byte kho-v1 bitmap objects,
    // which 6.16 kzalloc()ed from a slab (several per page).
    uint64_t alloc_object(uint64_t bytes, uint64_t align);
    uint64_t base() const { return base_; }
    uint64_t page_size() const { return page_; }
    uint64_t pages_used() const { return (next_ - base_) / page_; }

private:
    uint64_t base_;
    uint64_t end_;
    uint64_t page_;
    uint64_t next_;
    uint64_t obj_page_ = 0;  // current slab page for alloc_object
    uint64_t obj_off_ = 0;
};

// ---------------------------------------------------------------------------
// kho-v2 .. kho-v4 radix tree (docs/kho-abi.md 5).

struct RadixShape {
    unsigned page_shift;
    uint64_t page_size;
    unsigned order0_log2;  // 64 - page_shift
    unsigned table_log2;   // log2(page_size / 8)
    unsigned bitmap_log2;  // page_shift + 3
    unsigned depth;        // levels including the leaf
    static RadixShape for_page_shift(unsigned page_shift);
};

uint64_t radix_key(const RadixShape& s, uint64_t phys, unsigned order);

struct RadixPage {
    uint64_t phys;
    unsigned level;   // depth-1 = root ... 1 = lowest table, 0 = leaf
    uint64_t parent;  // 0 for the root
    unsigned index;   // slot in the parent table
};

struct RadixTree {
    RadixShape shape;
    uint64_t root = 0;
    std::vector<RadixPage> pages;  // every table and leaf page, root first
    std::vector<uint64_t> table_pages() const;
    std::vector<uint64_t> leaf_pages() const;
    std::vector<uint64_t> all_pages() const;  // sorted
    // The page at `level` on the path of (phys, order); 0 if absent.
    uint64_t page_on_path(const FakePhysMem& mem, uint64_t phys, unsigned order,
                          unsigned level) const;
};

// Creates an empty tree (root page only), then adds each block the way the
// producer's kho_radix_add_page() does: walk from the root, allocating
// missing tables and the leaf, set the key's bit.
RadixTree encode_radix(FakePhysMem& mem, PageArena& arena, const std::vector<Block>& blocks,
                       unsigned page_shift = 12);
void radix_add(FakePhysMem& mem, PageArena& arena, RadixTree& tree, const Block& b);

// ---------------------------------------------------------------------------
// kho-v1 khoser_mem_chunk list (docs/kho-abi.md 4).

enum class V1Layout { Bytes512, Page };

struct V1Options {
    V1Layout layout = V1Layout::Page;
    // Serialise orders from high to low instead of the producer's
    // ascending xarray order (decoders must not rely on the order).
    bool descending_orders = false;
};

struct V1List {
    uint64_t first = 0;
    std::vector<uint64_t> chunks;   // in list order
    std::vector<uint64_t> bitmaps;  // object addresses, in list order
    std::vector<uint64_t> metadata_pages() const;  // chunk + bitmap pages, sorted unique
};

inline constexpr unsigned kV1ElementsPerChunk = 255;
inline constexpr uint64_t kV1ChunkHeaderBytes = 16;
inline constexpr uint64_t kV1ElementBytes = 16;
uint64_t v1_bitmap_bits(V1Layout l);

V1List encode_v1(FakePhysMem& mem, PageArena& arena, const std::vector<Block>& blocks,
                 const V1Options& options = {});

// Byte offsets inside a chunk page, for tests that corrupt one field.
inline uint64_t v1_next_addr(uint64_t chunk) { return chunk; }
inline uint64_t v1_order_addr(uint64_t chunk) { return chunk + 8; }
inline uint64_t v1_count_addr(uint64_t chunk) { return chunk + 12; }
inline uint64_t v1_phys_start_addr(uint64_t chunk, unsigned i) { return chunk + 16 + 16 * i; }
inline uint64_t v1_bitmap_ptr_addr(uint64_t chunk, unsigned i) { return chunk + 24 + 16 * i; }

// ---------------------------------------------------------------------------
// FDTs (sequential-write libfdt).

struct FdtProp {
    std::string name;
    std::vector<uint8_t> value;
};
struct FdtNode {
    std::string name;  // "" for the root
    std::vector<FdtProp> props;
    std::vector<FdtNode> children;
    FdtProp* find(const std::string& prop);
};

FdtProp prop_u64(const std::string& name, uint64_t native_value);  // CPU-native (LE) u64
FdtProp prop_u32_be(const std::string& name, uint32_t value);       // a DT cell
FdtProp prop_string(const std::string& name, const std::string& s);
FdtProp prop_bytes(const std::string& name, std::vector<uint8_t> bytes);

// fdt_create(capacity) ... fdt_finish(); the result is totalsize bytes.
// Aborts if the tree does not fit (test data error, not a tested path).
std::vector<uint8_t> build_fdt(const FdtNode& root, size_t capacity = 4096);

struct KhoSubBlob {
    std::string name;
    uint64_t phys;
    uint64_t size;  // written as blob-size for kho-v3/v4
};

// Root node of a KHO FDT for `compatible` ("kho-v1".."kho-v4"): the
// compatible, preserved-memory-map, and one sub-node per blob with the
// property names of that version.
FdtNode kho_root_node(const std::string& compatible, uint64_t memory_map,
                      const std::vector<KhoSubBlob>& subs);
// multikernel-v1: compatible and node multikernel { dtb-data = <dtb> }.
FdtNode multikernel_root_node(const std::vector<uint8_t>& dtb);
// A minimal valid sub-FDT (kho-v1 sub-nodes point at FDTs), padded to
// `size` bytes of totalsize when size is larger than what it needs.
std::vector<uint8_t> small_sub_fdt(const std::string& compatible, size_t min_totalsize = 0);

// Writes `fdt` at the start of a zeroed page (or pages) from `arena`.
uint64_t place_bytes(FakePhysMem& mem, PageArena& arena, const std::vector<uint8_t>& bytes);

// ---------------------------------------------------------------------------
// Block sets.

// Random non-overlapping naturally aligned blocks in [lo, hi): orders drawn
// uniformly from [min_order, max_order] (an order that cannot fit is
// redrawn). Deterministic for a given rng state.
std::vector<Block> random_sparse_blocks(std::mt19937_64& rng, size_t count, unsigned min_order,
                                        unsigned max_order, uint64_t lo, uint64_t hi);
// `pages` consecutive order-0 pages from `start`.
std::vector<Block> dense_pages(uint64_t start, uint64_t pages);
// A page range split as kho_preserve_pages() does: blocks of
// min(ctz(pfn), ilog2(remaining)) pages.
std::vector<Block> split_like_preserve_pages(uint64_t start, uint64_t pages);
// Appends b to a if no block of b overlaps any in a (bytes).
void merge_disjoint(std::vector<Block>& a, const std::vector<Block>& b);
bool blocks_overlap(const std::vector<Block>& blocks);
std::vector<Block> sorted(std::vector<Block> v);

// ---------------------------------------------------------------------------
// A sink that records what a decoder reports, for comparison with the
// encoder's input.

class CollectingSink : public kho::PreservedMemorySink {
public:
    explicit CollectingSink(uint64_t page_size = 4096) : page_(page_size) {}
    kho::Status blocks(uint64_t phys, unsigned order, uint64_t count) override;
    kho::Status metadata(uint64_t phys, uint64_t size) override;

    // Every block, expanded from the runs, sorted by phys.
    std::vector<Block> sorted_blocks() const { return sorted(blocks_); }
    // Every page any metadata() call covered, sorted unique.
    std::vector<uint64_t> metadata_pages() const;

    struct Run {
        uint64_t phys;
        unsigned order;
        uint64_t count;
    };
    const std::vector<Run>& runs() const { return runs_; }
    size_t metadata_calls() const { return meta_.size(); }
    // Set when a run was absurdly long (not expanded) or wrapped 2^64.
    bool implausible() const { return implausible_; }

    // Make the n-th (0-based) blocks() call fail with this status.
    void fail_blocks_call(size_t n, kho::Err code) {
        fail_at_ = n;
        fail_code_ = code;
    }

private:
    uint64_t page_;
    std::vector<Block> blocks_;
    std::vector<Run> runs_;
    std::vector<std::pair<uint64_t, uint64_t>> meta_;
    bool implausible_ = false;
    size_t fail_at_ = SIZE_MAX;
    kho::Err fail_code_ = kho::Err::Ok;
};

// ---------------------------------------------------------------------------
// Checking a decoder's verdict: the message must name the offending address.

// True if `message` contains `value` as a hexadecimal number (with or
// without 0x, any case, any leading zeros).
bool mentions_hex(const char* message, uint64_t value);

}  // namespace khotest
