#include "root_fdt_search.h"

#include <libfdt.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "abi/kho_fdt.h"
#include "abi/khoboot_vendor.h"
#include "loader/kho_fdt_reader.h"
#include "loader/page_set.h"
#include "loader/protected_set.h"

namespace kho::tools::exporting {
namespace {

constexpr uint64_t kPage = abi::kPageSize;
constexpr size_t kVisitedSlots = size_t(1) << 18;
static_assert(abi::kRootFdtSize == kPage, "the root FDT is one page");

// Only the order-0 blocks: the root FDT is one preserved page
// (kho_alloc_preserve(PAGE_SIZE) in kho_init(), kernel/liveupdate/
// kexec_handover.c).
class Order0Sink : public PreservedMemorySink {
public:
    Status blocks(uint64_t phys, unsigned order, uint64_t count) override {
        if (order != 0) return Status::ok();
        for (uint64_t i = 0; i < count; ++i) pages.push_back(phys + i * kPage);
        return Status::ok();
    }
    Status metadata(uint64_t, uint64_t) override { return Status::ok(); }
    std::vector<uint64_t> pages;
};

// The header fields libfdt reads, checked against the copy: it must be
// the header of a one-page FDT whose structure block starts in the copy.
Status check_prefix_header(const uint8_t* p, size_t len) {
    if (len < sizeof(fdt_header))
        return Status::error(Err::BadFdt, "FDT copy is %zu bytes, its header alone is %zu", len,
                             sizeof(fdt_header));
    if (len > kPage)
        return Status::error(Err::BadFdt, "FDT copy is %zu bytes, the root FDT is one %llu-byte page",
                             len, (unsigned long long)kPage);
    if (fdt_magic(p) != FDT_MAGIC)
        return Status::error(Err::BadFdt, "FDT copy has magic 0x%x, want 0x%x", fdt_magic(p), FDT_MAGIC);
    if (fdt_version(p) < 16)
        return Status::error(Err::BadFdt, "FDT copy has version %u, want 16 or 17", fdt_version(p));
    if (fdt_totalsize(p) < sizeof(fdt_header) || fdt_totalsize(p) > kPage)
        return Status::error(Err::BadFdt, "FDT copy claims totalsize %u, the root FDT is one page",
                             fdt_totalsize(p));
    uint32_t off_struct = fdt_off_dt_struct(p);
    if (off_struct < sizeof(fdt_header) || off_struct % 4 || off_struct >= len)
        return Status::error(Err::BadFdt, "FDT structure block at %u lies outside the %zu-byte copy",
                             off_struct, len);
    return Status::ok();
}

// The root property values wholly inside the first `len` bytes, as
// candidates: 8-byte values (KHO properties are CPU-native u64) and
// printable NUL-terminated strings. Names are not read: they live in the
// strings block, which a truncated copy does not reach.
void collect_root_values(const void* fdt, int root, const uint8_t* copy_end, RootPrefix* out) {
    int off;
    fdt_for_each_property_offset(off, fdt, root) {
        int plen = 0;
        const struct fdt_property* prop = fdt_get_property_by_offset(fdt, off, &plen);
        if (!prop || plen < 0) break;
        const uint8_t* v = reinterpret_cast<const uint8_t*>(prop->data);
        if (v + plen > copy_end) break;  // the copy ends inside this value
        if (plen == 8) {
            uint64_t value;
            std::memcpy(&value, v, 8);
            out->u64_values.push_back(value);
        }
        if (plen > 1 && v[plen - 1] == 0 &&
            std::all_of(v, v + plen - 1, [](uint8_t c) { return c >= 0x20 && c < 0x7f; }))
            out->strings.emplace_back(reinterpret_cast<const char*>(v));
    }
}

// The map's root as the core walks it, for one candidate: decode_state()
// does the version dispatch (kho-v1 chunks or the radix tree).
Status walk_candidate(const PhysMem& mem, abi::KhoVersion version, uint64_t root,
                      std::vector<uint64_t>& visited_slots, Order0Sink* sink) {
    auto skeleton = std::make_unique<KhoState>();  // value-initialised: no sub-nodes
    skeleton->version = version;
    skeleton->memory_map = root;
    std::fill(visited_slots.begin(), visited_slots.end(), 0);
    PageSet visited(visited_slots.data(), visited_slots.size());
    return decode_state(mem, *skeleton, ProtectOptions{}, visited, *sink, nullptr);
}

// Walks the map from every candidate root and collects the preserved
// order-0 pages holding the copy's bytes. `walked` counts the candidates
// whose map decoded; `last` keeps the last decode error.
Status scan_candidates(const PhysMem& mem, abi::KhoVersion version, const RootPrefix& rp,
                       const uint8_t* prefix, size_t len, std::vector<uint64_t>* matches,
                       uint64_t* matched_root, size_t* walked, Status* last, FdtLocation* out) {
    std::vector<uint64_t> visited_slots(kVisitedSlots);
    for (uint64_t root : rp.u64_values) {
        if (!root || root % kPage || !mem.is_ram(root, kPage)) continue;
        Order0Sink sink;
        Status s = walk_candidate(mem, version, root, visited_slots, &sink);
        if (!s) {
            *last = s;
            continue;
        }
        ++*walked;
        out->order0_blocks += sink.pages.size();
        for (uint64_t page : sink.pages) {
            const uint8_t* v = mem.view(page, len);
            if (!v)
                return Status::error(Err::OutOfRam, "preserved page 0x%llx (map 0x%llx) is not readable RAM",
                                     (unsigned long long)page, (unsigned long long)root);
            if (std::memcmp(v, prefix, len) == 0) {
                matches->push_back(page);
                *matched_root = root;
            }
        }
    }
    return Status::ok();
}

}  // namespace

Status parse_root_prefix(const uint8_t* p, size_t len, RootPrefix* out) {
    *out = RootPrefix{};
    KHO_TRY(check_prefix_header(p, len));
    // libfdt bounds its reads by the header's totalsize, which lies past a
    // truncated copy: give it a whole page, zeros after the copy (a zero
    // tag ends the walk).
    std::vector<uint8_t> page(kPage, 0);
    std::memcpy(page.data(), p, len);
    int err = fdt_check_header(page.data());
    if (err) return Status::error(Err::BadFdt, "FDT copy header: %s", fdt_strerror(err));
    // The first node (after any NOPs) must be the root: an empty name.
    int root = fdt_next_node(page.data(), -1, nullptr), name_len = -1;
    if (root < 0 || size_t(root) >= len || !fdt_get_name(page.data(), root, &name_len) || name_len != 0)
        return Status::error(Err::BadFdt, "FDT copy does not start with the root node");
    out->totalsize = fdt_totalsize(p);
    collect_root_values(page.data(), root, page.data() + len, out);
    return Status::ok();
}

Status locate_root_fdt(const PhysMem& mem, const uint8_t* prefix, size_t len, FdtLocation* out) {
    RootPrefix rp;
    KHO_TRY(parse_root_prefix(prefix, len, &rp));
    abi::KhoVersion version{};
    bool known = false;
    for (const std::string& s : rp.strings)
        if (!known && kho_version_from_compatible(s.c_str(), &version)) known = true;
    if (!known)
        return Status::error(Err::BadVersion, "no KHO compatible among the root properties of the %zu-byte FDT copy", len);
    if (version == abi::KhoVersion::Multikernel1)
        return Status::error(Err::BadVersion, "multikernel-v1 states have no preserved-memory map to walk");

    std::vector<uint64_t> matches;
    uint64_t matched_root = 0;
    size_t walked = 0;
    Status last = Status::ok();
    *out = FdtLocation{};
    KHO_TRY(scan_candidates(mem, version, rp, prefix, len, &matches, &matched_root, &walked, &last, out));
    if (!walked) {
        if (!last)
            return Status::error(last.code(), "no root property is a usable map: %s", last.message());
        return Status::error(Err::BadProperty, "none of the %zu 8-byte root properties names a RAM page",
                             rp.u64_values.size());
    }
    if (matches.empty())
        return Status::error(Err::Stale, "none of %llu preserved order-0 pages holds the %zu FDT bytes",
                             (unsigned long long)out->order0_blocks, len);
    if (matches.size() > 1)
        return Status::error(Err::BadFdt, "%zu preserved pages hold the FDT bytes (0x%llx, 0x%llx)",
                             matches.size(), (unsigned long long)matches[0],
                             (unsigned long long)matches[1]);
    auto state = std::make_unique<KhoState>();
    KHO_TRY(read_kho_fdt(mem, matches[0], state.get()));
    if (state->memory_map != matched_root)
        return Status::error(Err::BadProperty, "FDT at 0x%llx names map 0x%llx, found through 0x%llx",
                             (unsigned long long)matches[0], (unsigned long long)state->memory_map,
                             (unsigned long long)matched_root);
    out->fdt_addr = matches[0];
    out->map_root = matched_root;
    return Status::ok();
}

}  // namespace kho::tools::exporting
