#include "loader/tests/kho_encoder.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <set>

#include <libfdt.h>

namespace khotest {

namespace {

[[noreturn]] void die(const char* what) {
    fprintf(stderr, "kho_encoder: %s\n", what);
    abort();
}

void put_u64(FakePhysMem& mem, uint64_t addr, uint64_t v) {
    if (!mem.write_u64(addr, v)) die("write outside backed memory");
}
void put_u32(FakePhysMem& mem, uint64_t addr, uint32_t v) {
    if (!mem.write_u32(addr, v)) die("write outside backed memory");
}

// Sets bit b of a little-endian bitmap (bit b%8 of byte b/8).
void set_bit_le(uint8_t* bitmap, uint64_t b) { bitmap[b / 8] |= uint8_t(1u << (b % 8)); }

}  // namespace

// ---------------------------------------------------------------------------

PageArena::PageArena(FakePhysMem& mem, uint64_t base, uint64_t size, uint64_t page_size)
    : base_(base), end_(base + size), page_(page_size), next_(base) {
    if (base % page_size || size % page_size) die("arena not page aligned");
    if (!mem.add_backed(base, size)) die("arena overlaps another region");
}

uint64_t PageArena::alloc_page() {
    if (next_ >= end_) die("arena exhausted");
    uint64_t p = next_;
    next_ += page_;
    return p;
}

uint64_t PageArena::alloc_object(uint64_t bytes, uint64_t align) {
    uint64_t off = (obj_off_ + align - 1) & ~(align - 1);
    if (obj_page_ == 0 || off + bytes > page_) {
        obj_page_ = alloc_page();
        off = 0;
    }
    obj_off_ = off + bytes;
    return obj_page_ + off;
}

// ---------------------------------------------------------------------------
// Radix tree.

RadixShape RadixShape::for_page_shift(unsigned page_shift) {
    RadixShape s{};
    s.page_shift = page_shift;
    s.page_size = uint64_t(1) << page_shift;
    s.order0_log2 = 64 - page_shift;
    s.table_log2 = page_shift - 3;  // PAGE_SIZE / sizeof(u64) entries
    s.bitmap_log2 = page_shift + 3;  // PAGE_SIZE * 8 bits
    // Levels needed for every key bit: a key is KHO_ORDER_0_LOG2 + 1 bits
    // wide (the order bit of an order-0 key is bit ORDER_0_LOG2). The first
    // radix version sized the tree from ORDER_0_LOG2 alone, one bit short;
    // Linux fixed that ("kho: fix KHO_TREE_MAX_DEPTH for non-4KB page
    // sizes", d64b0372760e, KHO_RADIX_KEY_WIDTH = 64 - PAGE_SHIFT + 1). The
    // depth only changes for 16 KiB pages (4 -> 5); 4 and 64 KiB stay 6 / 4.
    unsigned key_width = s.order0_log2 + 1;
    unsigned above_leaf = key_width - s.bitmap_log2;
    s.depth = (above_leaf + s.table_log2 - 1) / s.table_log2 + 1;
    return s;
}

uint64_t radix_key(const RadixShape& s, uint64_t phys, unsigned order) {
    return (uint64_t(1) << (s.order0_log2 - order)) | (phys >> (s.page_shift + order));
}

namespace {
unsigned table_index(const RadixShape& s, uint64_t key, unsigned level) {
    unsigned shift = (level - 1) * s.table_log2 + s.bitmap_log2;
    return unsigned((key >> shift) & ((uint64_t(1) << s.table_log2) - 1));
}
}  // namespace

std::vector<uint64_t> RadixTree::table_pages() const {
    std::vector<uint64_t> v;
    for (const auto& p : pages)
        if (p.level > 0) v.push_back(p.phys);
    return v;
}
std::vector<uint64_t> RadixTree::leaf_pages() const {
    std::vector<uint64_t> v;
    for (const auto& p : pages)
        if (p.level == 0) v.push_back(p.phys);
    return v;
}
std::vector<uint64_t> RadixTree::all_pages() const {
    std::vector<uint64_t> v;
    for (const auto& p : pages) v.push_back(p.phys);
    std::sort(v.begin(), v.end());
    return v;
}

uint64_t RadixTree::page_on_path(const FakePhysMem& mem, uint64_t phys, unsigned order,
                                 unsigned level) const {
    uint64_t key = radix_key(shape, phys, order);
    uint64_t page = root;
    for (unsigned l = shape.depth - 1; l > level; --l) {
        page = mem.peek_u64(page + 8ull * table_index(shape, key, l));
        if (page == 0) return 0;
    }
    return page;
}

void radix_add(FakePhysMem& mem, PageArena& arena, RadixTree& tree, const Block& b) {
    const RadixShape& s = tree.shape;
    uint64_t key = radix_key(s, b.phys, b.order);
    uint64_t page = tree.root;
    for (unsigned level = s.depth - 1; level >= 1; --level) {
        unsigned idx = table_index(s, key, level);
        uint64_t slot = page + 8ull * idx;
        uint64_t child = mem.peek_u64(slot);
        if (child == 0) {
            child = arena.alloc_page();
            put_u64(mem, slot, child);
            tree.pages.push_back(RadixPage{child, level - 1, page, idx});
        }
        page = child;
    }
    uint64_t bit = key & ((uint64_t(1) << s.bitmap_log2) - 1);
    uint8_t* leaf = mem.mutable_view(page, s.page_size);
    if (!leaf) die("leaf not backed");
    set_bit_le(leaf, bit);
}

RadixTree encode_radix(FakePhysMem& mem, PageArena& arena, const std::vector<Block>& blocks,
                       unsigned page_shift) {
    RadixTree tree;
    tree.shape = RadixShape::for_page_shift(page_shift);
    if (arena.page_size() != tree.shape.page_size) die("arena page size != tree page size");
    tree.root = arena.alloc_page();
    tree.pages.push_back(RadixPage{tree.root, tree.shape.depth - 1, 0, 0});
    for (const Block& b : blocks) radix_add(mem, arena, tree, b);
    return tree;
}

// ---------------------------------------------------------------------------
// kho-v1.

uint64_t v1_bitmap_bits(V1Layout l) { return l == V1Layout::Bytes512 ? 512 * 8 : 4096 * 8; }

std::vector<uint64_t> V1List::metadata_pages() const {
    std::set<uint64_t> s(chunks.begin(), chunks.end());
    for (uint64_t b : bitmaps) s.insert(b & ~uint64_t(4095));
    return {s.begin(), s.end()};
}

V1List encode_v1(FakePhysMem& mem, PageArena& arena, const std::vector<Block>& blocks,
                 const V1Options& options) {
    const uint64_t bits = v1_bitmap_bits(options.layout);
    const uint64_t bytes = bits / 8;
    // The producer's per-order xarray of bitmaps, keyed by xa_index.
    std::map<unsigned, std::map<uint64_t, std::vector<uint8_t>>> orders;
    for (const Block& b : blocks) {
        uint64_t idx = (b.phys >> 12) >> b.order;
        auto& bm = orders[b.order][idx / bits];
        if (bm.empty()) bm.assign(bytes, 0);
        set_bit_le(bm.data(), idx % bits);
    }
    std::vector<unsigned> order_list;
    for (const auto& [o, m] : orders) order_list.push_back(o);
    if (options.descending_orders) std::reverse(order_list.begin(), order_list.end());

    V1List out;
    uint64_t chunk = 0;
    uint32_t used = 0;
    for (unsigned order : order_list) {
        bool new_order = true;
        for (const auto& [xa, bm] : orders[order]) {
            if (chunk == 0 || new_order || used == kV1ElementsPerChunk) {
                uint64_t c = arena.alloc_page();
                if (chunk) put_u64(mem, v1_next_addr(chunk), c);
                else out.first = c;
                chunk = c;
                used = 0;
                put_u32(mem, v1_order_addr(chunk), order);
                out.chunks.push_back(chunk);
                new_order = false;
            }
            uint64_t obj = options.layout == V1Layout::Page ? arena.alloc_page()
                                                            : arena.alloc_object(bytes, bytes);
            if (!mem.write(obj, bm.data(), bm.size())) die("bitmap not backed");
            out.bitmaps.push_back(obj);
            put_u64(mem, v1_phys_start_addr(chunk, used), (xa * bits) << (order + 12));
            put_u64(mem, v1_bitmap_ptr_addr(chunk, used), obj);
            ++used;
            put_u32(mem, v1_count_addr(chunk), used);
        }
    }
    return out;
}

// ---------------------------------------------------------------------------
// FDTs.

FdtProp* FdtNode::find(const std::string& prop) {
    for (auto& p : props)
        if (p.name == prop) return &p;
    return nullptr;
}

FdtProp prop_u64(const std::string& name, uint64_t v) {
    std::vector<uint8_t> b(8);
    memcpy(b.data(), &v, 8);  // x86-64 host: native = little-endian
    return {name, b};
}

FdtProp prop_u32_be(const std::string& name, uint32_t v) {
    return {name, {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)}};
}

FdtProp prop_string(const std::string& name, const std::string& s) {
    std::vector<uint8_t> b(s.begin(), s.end());
    b.push_back(0);
    return {name, b};
}

FdtProp prop_bytes(const std::string& name, std::vector<uint8_t> bytes) {
    return {name, std::move(bytes)};
}

namespace {
void emit_node(void* fdt, const FdtNode& n) {
    if (fdt_begin_node(fdt, n.name.c_str())) die("fdt_begin_node");
    for (const auto& p : n.props)
        if (fdt_property(fdt, p.name.c_str(), p.value.data(), int(p.value.size())))
            die("fdt_property (FDT too small?)");
    for (const auto& c : n.children) emit_node(fdt, c);
    if (fdt_end_node(fdt)) die("fdt_end_node");
}
}  // namespace

std::vector<uint8_t> build_fdt(const FdtNode& root, size_t capacity) {
    std::vector<uint8_t> buf(capacity, 0);
    if (fdt_create(buf.data(), int(capacity))) die("fdt_create");
    if (fdt_finish_reservemap(buf.data())) die("fdt_finish_reservemap");
    emit_node(buf.data(), root);
    if (fdt_finish(buf.data())) die("fdt_finish");
    buf.resize(fdt_totalsize(buf.data()));
    return buf;
}

FdtNode kho_root_node(const std::string& compatible, uint64_t memory_map,
                      const std::vector<KhoSubBlob>& subs) {
    FdtNode root;
    root.props.push_back(prop_string("compatible", compatible));
    root.props.push_back(prop_u64("preserved-memory-map", memory_map));
    const bool v1 = compatible == "kho-v1";
    const bool sized = compatible == "kho-v3" || compatible == "kho-v4";
    for (const auto& s : subs) {
        FdtNode n;
        n.name = s.name;
        n.props.push_back(prop_u64(v1 ? "fdt" : "preserved-data", s.phys));
        if (sized) n.props.push_back(prop_u64("blob-size", s.size));
        root.children.push_back(n);
    }
    return root;
}

FdtNode multikernel_root_node(const std::vector<uint8_t>& dtb) {
    FdtNode root;
    root.props.push_back(prop_string("compatible", "multikernel-v1"));
    FdtNode mk;
    mk.name = "multikernel";
    mk.props.push_back(prop_bytes("dtb-data", dtb));
    root.children.push_back(mk);
    return root;
}

std::vector<uint8_t> small_sub_fdt(const std::string& compatible, size_t min_totalsize) {
    FdtNode root;
    root.props.push_back(prop_string("compatible", compatible));
    std::vector<uint8_t> fdt = build_fdt(root, 4096);
    if (min_totalsize > fdt.size()) {
        // fdt_open_into grows totalsize (free space at the end), as a
        // producer that allocated a larger sub-FDT would leave it.
        std::vector<uint8_t> big(min_totalsize, 0);
        if (fdt_open_into(fdt.data(), big.data(), int(min_totalsize))) die("fdt_open_into");
        fdt = big;
    }
    return fdt;
}

uint64_t place_bytes(FakePhysMem& mem, PageArena& arena, const std::vector<uint8_t>& bytes) {
    uint64_t pages = (bytes.size() + arena.page_size() - 1) / arena.page_size();
    if (pages == 0) pages = 1;
    uint64_t first = arena.alloc_page();
    for (uint64_t i = 1; i < pages; ++i)
        if (arena.alloc_page() != first + i * arena.page_size()) die("arena not contiguous");
    if (!bytes.empty() && !mem.write(first, bytes.data(), bytes.size())) die("place_bytes");
    return first;
}

// ---------------------------------------------------------------------------
// Block sets.

namespace {
// Disjointness index over [start, end) byte ranges.
class Occupied {
public:
    bool free(uint64_t s, uint64_t e) const {
        auto it = m_.upper_bound(s);
        if (it != m_.begin()) {
            auto p = std::prev(it);
            if (p->second > s) return false;
        }
        return it == m_.end() || it->first >= e;
    }
    void take(uint64_t s, uint64_t e) { m_[s] = e; }

private:
    std::map<uint64_t, uint64_t> m_;
};
uint64_t block_end(const Block& b) { return b.phys + (uint64_t(4096) << b.order); }
}  // namespace

std::vector<Block> random_sparse_blocks(std::mt19937_64& rng, size_t count, unsigned min_order,
                                        unsigned max_order, uint64_t lo, uint64_t hi) {
    std::vector<Block> out;
    Occupied occ;
    std::uniform_int_distribution<unsigned> od(min_order, max_order);
    size_t attempts = 0;
    while (out.size() < count) {
        if (++attempts > count * 100 + 1000) die("cannot place random blocks");
        unsigned order = od(rng);
        uint64_t size = uint64_t(4096) << order;
        uint64_t first = (lo + size - 1) / size, last = hi / size;  // slots [first, last)
        if (last <= first) continue;
        uint64_t slot = std::uniform_int_distribution<uint64_t>(first, last - 1)(rng);
        uint64_t s = slot * size;
        if (!occ.free(s, s + size)) continue;
        occ.take(s, s + size);
        out.push_back({s, order});
    }
    return out;
}

std::vector<Block> dense_pages(uint64_t start, uint64_t pages) {
    std::vector<Block> out;
    out.reserve(pages);
    for (uint64_t i = 0; i < pages; ++i) out.push_back({start + i * 4096, 0});
    return out;
}

std::vector<Block> split_like_preserve_pages(uint64_t start, uint64_t pages) {
    std::vector<Block> out;
    uint64_t pfn = start >> 12, end = pfn + pages;
    while (pfn < end) {
        unsigned by_align = pfn ? unsigned(__builtin_ctzll(pfn)) : 63;
        unsigned by_size = 63 - unsigned(__builtin_clzll(end - pfn));
        unsigned order = std::min(by_align, by_size);
        out.push_back({pfn << 12, order});
        pfn += uint64_t(1) << order;
    }
    return out;
}

void merge_disjoint(std::vector<Block>& a, const std::vector<Block>& b) {
    Occupied occ;
    for (const Block& x : a) occ.take(x.phys, block_end(x));
    for (const Block& x : b) {
        if (!occ.free(x.phys, block_end(x))) continue;
        occ.take(x.phys, block_end(x));
        a.push_back(x);
    }
}

bool blocks_overlap(const std::vector<Block>& blocks) {
    std::vector<Block> s = sorted(blocks);
    for (size_t i = 1; i < s.size(); ++i)
        if (block_end(s[i - 1]) > s[i].phys) return true;
    return false;
}

std::vector<Block> sorted(std::vector<Block> v) {
    std::sort(v.begin(), v.end());
    return v;
}

// ---------------------------------------------------------------------------
// CollectingSink.

kho::Status CollectingSink::blocks(uint64_t phys, unsigned order, uint64_t count) {
    if (runs_.size() == fail_at_) {
        runs_.push_back({phys, order, count});
        return kho::Status::error(fail_code_, "sink refused run at 0x%llx",
                                  (unsigned long long)phys);
    }
    runs_.push_back({phys, order, count});
    // A valid map of the sizes these tests build never reports more than a
    // few million blocks; anything else is recorded, not expanded.
    if (order >= 52 || count > (uint64_t(1) << 26) || blocks_.size() + count > (uint64_t(1) << 27)) {
        implausible_ = true;
        return kho::Status::ok();
    }
    uint64_t size = page_ << order;
    for (uint64_t i = 0; i < count; ++i) {
        uint64_t p = phys + i * size;
        if (p < phys || p + size < p) implausible_ = true;
        blocks_.push_back({p, order});
    }
    return kho::Status::ok();
}

kho::Status CollectingSink::metadata(uint64_t phys, uint64_t size) {
    meta_.emplace_back(phys, size);
    return kho::Status::ok();
}

std::vector<uint64_t> CollectingSink::metadata_pages() const {
    std::set<uint64_t> s;
    for (const auto& [p, n] : meta_) {
        if (n > (uint64_t(1) << 30)) continue;  // nonsense; tests compare sets anyway
        for (uint64_t a = p & ~(page_ - 1); a < p + n; a += page_) s.insert(a);
    }
    return {s.begin(), s.end()};
}

// ---------------------------------------------------------------------------

bool mentions_hex(const char* message, uint64_t value) {
    const char* p = message;
    while (*p) {
        if (!isxdigit((unsigned char)*p)) {
            ++p;
            continue;
        }
        // A maximal run of hex digits; "0x" prefixes are skipped as a run "0"
        // followed by 'x', which is not a hex digit.
        const char* q = p;
        uint64_t v = 0;
        bool overflow = false;
        while (isxdigit((unsigned char)*q)) {
            unsigned d = isdigit((unsigned char)*q) ? unsigned(*q - '0')
                                                    : unsigned(tolower((unsigned char)*q) - 'a' + 10);
            if (v >> 60) overflow = true;
            v = (v << 4) | d;
            ++q;
        }
        if (!overflow && v == value) return true;
        p = q;
    }
    return false;
}

}  // namespace khotest
