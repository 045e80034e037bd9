#include "export.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "abi/handover_descriptor.h"
#include "abi/integrity_manifest.h"
#include "abi/kho_fdt.h"
#include "abi/kho_radix.h"
#include "loader/crc32.h"
#include "loader/handover_descriptor.h"
#include "loader/integrity_manifest.h"
#include "loader/kho_fdt_reader.h"
#include "loader/kho_radix_map.h"
#include "loader/kho_v1_map.h"
#include "loader/page_set.h"
#include "loader/protected_set.h"

namespace kho::tools {
namespace exporting {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint32_t kFdtMagic = 0xd00dfeed;
// FDT structure tokens (devicetree specification 0.4, section 5.4.1).
constexpr uint32_t kTokBeginNode = 1, kTokEndNode = 2, kTokProp = 3, kTokNop = 4, kTokEnd = 9;

uint32_t be32(const uint8_t* p) {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        if (nl == std::string::npos) nl = text.size();
        std::string line = text.substr(pos, nl - pos);
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (!line.empty()) out.push_back(line);
        pos = nl + 1;
    }
    return out;
}

bool parse_hex(const std::string& s, uint64_t* out) {
    const char* p = s.c_str();
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) p += 2;
    if (!*p) return false;
    // Digits only: strtoull() alone would take signs and blanks.
    for (const char* q = p; *q; ++q)
        if (!isxdigit(static_cast<unsigned char>(*q))) return false;
    char* end = nullptr;
    errno = 0;
    *out = std::strtoull(p, &end, 16);
    return !*end && !errno;
}

// Every decoded block and map page, for the checks and the manifest.
class RecordingSink : public PreservedMemorySink {
public:
    RecordingSink(RangeSet& blocks, RangeSet& metadata, RangeSet& protect)
        : blocks_(blocks), metadata_(metadata), protect_(protect) {}
    Status blocks(uint64_t phys, unsigned order, uint64_t count) override {
        uint64_t size = kPage << order;
        count_ += count;
        bytes_ += count * size;
        KHO_TRY(blocks_.add(phys, phys + count * size));
        return protect_.add(phys, phys + count * size);
    }
    Status metadata(uint64_t phys, uint64_t size) override {
        Range r{0, 0};
        KHO_TRY(map_page_range(phys, size, kPage, &r));
        ++pages_;
        KHO_TRY(metadata_.add(r));
        return protect_.add(r);
    }
    uint64_t count_ = 0, bytes_ = 0, pages_ = 0;

private:
    RangeSet& blocks_;
    RangeSet& metadata_;
    RangeSet& protect_;
};

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

// Storage for the core's caller-owned sets, sized for large hosts; the
// vectors are only touched as far as they are used.
struct SetStorage {
    explicit SetStorage(size_t n) : ranges(n) {}
    std::vector<Range> ranges;
    RangeSet set() { return RangeSet(ranges.data(), ranges.size()); }
};

Status decode_map(const PhysMem& mem, abi::KhoVersion version, uint64_t root, PageSet& visited,
                  PreservedMemorySink& sink) {
    if (version == abi::KhoVersion::V1)
        return decode_kho_v1_map(mem, root, V1BitmapMode::Auto, visited, sink);
    return decode_radix_map(mem, root, abi::radix::kGeometry4K, visited, sink);
}

constexpr size_t kVisitedSlots = size_t(1) << 18;

}  // namespace

const char* manifest_level_name(ManifestLevel level) {
    switch (level) {
    case ManifestLevel::None: return "none";
    case ManifestLevel::Metadata: return "metadata";
    case ManifestLevel::Full: return "full";
    }
    return "?";
}

Status parse_scratch_lists(const std::string& phys, const std::string& len,
                           std::vector<abi::KhoScratch>* out) {
    std::vector<std::string> a = split_lines(phys), b = split_lines(len);
    if (a.empty())
        return Status::error(Err::BadProperty, "scratch_phys lists no scratch region");
    if (a.size() != b.size())
        return Status::error(Err::BadProperty, "scratch_phys lists %zu regions, scratch_len %zu",
                             a.size(), b.size());
    out->clear();
    for (size_t i = 0; i < a.size(); ++i) {
        abi::KhoScratch s{};
        if (!parse_hex(a[i], &s.addr))
            return Status::error(Err::BadProperty, "scratch_phys line %zu '%s' is not hex", i + 1,
                                 a[i].substr(0, 40).c_str());
        if (!parse_hex(b[i], &s.size))
            return Status::error(Err::BadProperty, "scratch_len line %zu '%s' is not hex", i + 1,
                                 b[i].substr(0, 40).c_str());
        out->push_back(s);
    }
    return Status::ok();
}

Status parse_iomem_ram(const std::string& text, std::vector<Range>* out) {
    out->clear();
    for (const std::string& line : split_lines(text)) {
        // Nested resources are indented; only top-level RAM counts (the
        // kernel's own code/data appear as children of System RAM).
        if (line[0] == ' ') continue;
        size_t colon = line.find(" : ");
        if (colon == std::string::npos || line.substr(colon + 3) != "System RAM") continue;
        size_t dash = line.find('-');
        uint64_t start, last;
        if (dash == std::string::npos || dash > colon || !parse_hex(line.substr(0, dash), &start) ||
            !parse_hex(line.substr(dash + 1, colon - dash - 1), &last) || last < start)
            return Status::error(Err::Io, "iomem line '%s' is malformed", line.substr(0, 60).c_str());
        // /proc/iomem shows zeros to readers without CAP_SYS_ADMIN.
        if (start == 0 && last == 0)
            return Status::error(Err::Io, "iomem shows zero addresses (not running as root?)");
        uint64_t s = (start + kPage - 1) & ~(kPage - 1);
        uint64_t e = (last + 1) & ~(kPage - 1);
        if (e > s) out->push_back(Range{s, e});
    }
    if (out->empty()) return Status::error(Err::Io, "iomem lists no System RAM");
    std::sort(out->begin(), out->end(), [](const Range& x, const Range& y) { return x.start < y.start; });
    std::vector<Range> merged;
    for (const Range& r : *out) {
        if (!merged.empty() && r.start <= merged.back().end)
            merged.back().end = std::max(merged.back().end, r.end);
        else
            merged.push_back(r);
    }
    *out = merged;
    return Status::ok();
}

Status parse_root_prefix(const uint8_t* p, size_t len, RootPrefix* out) {
    *out = RootPrefix{};
    if (len < 40)
        return Status::error(Err::BadFdt, "FDT copy is %zu bytes, its header alone is 40", len);
    if (len > kPage)
        return Status::error(Err::BadFdt, "FDT copy is %zu bytes, the root FDT is one %llu-byte page",
                             len, (unsigned long long)kPage);
    if (be32(p) != kFdtMagic)
        return Status::error(Err::BadFdt, "FDT copy has magic 0x%x, want 0x%x", be32(p), kFdtMagic);
    uint32_t totalsize = be32(p + 4), off_struct = be32(p + 8), version = be32(p + 20);
    if (version < 16)
        return Status::error(Err::BadFdt, "FDT copy has version %u, want 16 or 17", version);
    if (totalsize < 40 || totalsize > kPage)
        return Status::error(Err::BadFdt, "FDT copy claims totalsize %u, the root FDT is one page",
                             totalsize);
    if (off_struct < 40 || off_struct % 4 || off_struct >= len)
        return Status::error(Err::BadFdt, "FDT structure block at %u lies outside the %zu-byte copy",
                             off_struct, len);
    out->totalsize = totalsize;
    size_t off = off_struct;
    auto token = [&](uint32_t* t) {
        if (off + 4 > len) return false;
        *t = be32(p + off);
        off += 4;
        return true;
    };
    uint32_t t = kTokNop;
    while (t == kTokNop)
        if (!token(&t)) return Status::error(Err::BadFdt, "FDT copy ends before the root node");
    if (t != kTokBeginNode || off >= len || p[off] != 0)
        return Status::error(Err::BadFdt, "FDT copy does not start with the root node");
    off += 4;  // the root's empty name, padded to 4 bytes
    // Root properties precede the first sub-node; stop at the first child
    // or where the copy ends.
    for (;;) {
        if (!token(&t)) break;
        if (t == kTokNop) continue;
        if (t != kTokProp) break;
        if (off + 8 > len) break;
        uint32_t plen = be32(p + off);
        off += 8;  // len, nameoff
        if (plen > kPage || off + plen > len) break;
        const uint8_t* v = p + off;
        if (plen == 8) {
            uint64_t value;
            std::memcpy(&value, v, 8);  // KHO properties are CPU-native u64
            out->u64_values.push_back(value);
        }
        if (plen > 1 && v[plen - 1] == 0) {
            bool printable = true;
            for (uint32_t i = 0; i + 1 < plen && printable; ++i) printable = v[i] >= 0x20 && v[i] < 0x7f;
            if (printable) out->strings.emplace_back(reinterpret_cast<const char*>(v));
        }
        off += (plen + 3) & ~3u;
    }
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

    std::vector<uint64_t> visited_slots(kVisitedSlots);
    std::vector<uint64_t> matches;
    Status last = Status::ok();
    size_t walked = 0;
    uint64_t matched_root = 0;
    *out = FdtLocation{};
    for (uint64_t root : rp.u64_values) {
        if (!root || root % kPage || !mem.is_ram(root, kPage)) continue;
        std::fill(visited_slots.begin(), visited_slots.end(), 0);
        PageSet visited(visited_slots.data(), visited_slots.size());
        Order0Sink sink;
        Status s = decode_map(mem, version, root, visited, sink);
        if (!s) {
            last = s;
            continue;
        }
        ++walked;
        out->order0_blocks += sink.pages.size();
        for (uint64_t page : sink.pages) {
            const uint8_t* v = mem.view(page, len);
            if (!v)
                return Status::error(Err::OutOfRam, "preserved page 0x%llx (map 0x%llx) is not readable RAM",
                                     (unsigned long long)page, (unsigned long long)root);
            if (std::memcmp(v, prefix, len) == 0) {
                matches.push_back(page);
                matched_root = root;
            }
        }
    }
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

Status plan_export(const PhysMem& mem, uint64_t fdt_addr,
                   const std::vector<abi::KhoScratch>& scratch, ManifestLevel level, size_t budget,
                   ExportPlan* out) {
    *out = ExportPlan{};
    auto state = std::make_unique<KhoState>();
    KHO_TRY(read_kho_fdt(mem, fdt_addr, state.get()));
    if (state->version == abi::KhoVersion::Multikernel1)
        return Status::error(Err::BadVersion, "multikernel-v1 states are not exported from Linux");
    if (scratch.size() > abi::descriptor::kMaxScratch)
        return Status::error(Err::Capacity, "%zu scratch regions, the descriptor holds %u",
                             scratch.size(), abi::descriptor::kMaxScratch);

    SetStorage block_store(size_t(1) << 20), meta_store(size_t(1) << 16), prot_store(size_t(1) << 20);
    RangeSet blocks = block_store.set(), metadata = meta_store.set(), protect = prot_store.set();
    std::vector<uint64_t> visited_slots(kVisitedSlots);
    PageSet visited(visited_slots.data(), visited_slots.size());
    RecordingSink sink(blocks, metadata, protect);
    ProtectStats stats;
    KHO_TRY(collect_protected(mem, *state, ProtectOptions{}, visited, sink, protect, &stats));
    blocks.normalize();
    metadata.normalize();

    // The next kernel memblock_reserve()s exactly the map's blocks (plus
    // the map's own pages, which it walks while still confined to
    // scratch); the root FDT and the sub-blobs must be among those blocks
    // or it would reuse them while they are still referenced
    // (kho_mem_retrieve()/kho_retrieve_subtree(), kexec_handover.c).
    if (!blocks.contains(fdt_addr, fdt_addr + kPage))
        return Status::error(Err::BadProperty, "root FDT page 0x%llx is not preserved memory",
                             (unsigned long long)fdt_addr);
    for (size_t i = 0; i < state->subnode_count; ++i) {
        const KhoSubnode& n = state->subnodes[i];
        Range r{0, 0};
        // The reader refused blobs whose pages wrap: page_span cannot fail here.
        if (!page_span(n.blob_phys, n.blob_size ? n.blob_size : 1, &r) || !blocks.contains(r.start, r.end))
            return Status::error(Err::BadProperty, "sub-node %s blob 0x%llx+0x%llx is not preserved memory",
                                 n.name, (unsigned long long)n.blob_phys,
                                 (unsigned long long)n.blob_size);
    }
    // kho-abi.md section 0 item 6: scratch is reused wholesale by the next
    // boot (its kernel and early allocations go there).
    for (const abi::KhoScratch& s : scratch) {
        if (!s.size) continue;
        if (!mem.is_ram(s.addr, s.size))
            return Status::error(Err::BadProperty, "scratch 0x%llx+0x%llx is not RAM",
                                 (unsigned long long)s.addr, (unsigned long long)s.size);
        if (protect.intersects(s.addr, s.addr + s.size)) {
            size_t i = protect.lower_bound(s.addr);
            return Status::error(Err::Overlap, "preserved 0x%llx-0x%llx lies inside scratch 0x%llx+0x%llx",
                                 (unsigned long long)protect[i].start,
                                 (unsigned long long)protect[i].end, (unsigned long long)s.addr,
                                 (unsigned long long)s.size);
        }
    }

    const uint8_t* fdt_page = mem.view(fdt_addr, kPage);
    if (!fdt_page)
        return Status::error(Err::OutOfRam, "root FDT page 0x%llx is not readable RAM",
                             (unsigned long long)fdt_addr);
    HandoverDescriptor d;
    d.flags = abi::descriptor::kFlagFdtCrc;
    d.fdt_addr = fdt_addr;
    d.fdt_size = abi::kRootFdtSize;
    d.fdt_crc32 = crc32(fdt_page, kPage);
    d.scratch_count = uint32_t(scratch.size());
    for (size_t i = 0; i < scratch.size(); ++i) d.scratch[i] = scratch[i];
    out->descriptor.resize(abi::descriptor::kMaxSize);
    size_t written = 0;
    KHO_TRY(build_handover_descriptor(d, out->descriptor.data(), out->descriptor.size(), &written));
    out->descriptor.resize(written);

    // Manifest: metadata first (map pages, the root FDT page, the exact
    // sub-blob bytes), then the preserved blocks as coalesced runs.
    std::vector<abi::manifest::Entry> meta_entries, data_entries;
    if (level != ManifestLevel::None) {
        auto add = [&](std::vector<abi::manifest::Entry>& v, uint64_t start, uint64_t size,
                       uint32_t kind) {
            abi::manifest::Entry e;
            KHO_TRY(make_manifest_entry(mem, start, size, kind, &e));
            v.push_back(e);
            return Status::ok();
        };
        for (const Range& r : metadata) KHO_TRY(add(meta_entries, r.start, r.size(), abi::manifest::kKindMetadata));
        KHO_TRY(add(meta_entries, fdt_addr, kPage, abi::manifest::kKindMetadata));
        for (size_t i = 0; i < state->subnode_count; ++i) {
            const KhoSubnode& n = state->subnodes[i];
            if (n.blob_size) KHO_TRY(add(meta_entries, n.blob_phys, n.blob_size, abi::manifest::kKindMetadata));
        }
        auto bytes_for = [](size_t entries) {
            return sizeof(abi::manifest::Header) + entries * sizeof(abi::manifest::Entry);
        };
        if (bytes_for(meta_entries.size()) > budget)
            return Status::error(Err::Capacity, "manifest of %zu metadata ranges needs %zu bytes, budget %zu",
                                 meta_entries.size(), bytes_for(meta_entries.size()), budget);
        out->manifest_level = ManifestLevel::Metadata;
        if (level == ManifestLevel::Full && bytes_for(meta_entries.size() + blocks.size()) <= budget) {
            for (const Range& r : blocks) KHO_TRY(add(data_entries, r.start, r.size(), abi::manifest::kKindData));
            out->manifest_level = ManifestLevel::Full;
        }
        std::vector<abi::manifest::Entry> all = meta_entries;
        all.insert(all.end(), data_entries.begin(), data_entries.end());
        out->manifest.resize(bytes_for(all.size()));
        KHO_TRY(build_manifest(all.data(), uint32_t(all.size()), out->manifest.data(),
                               out->manifest.size(), &written));
        out->manifest.resize(written);
    }

    std::snprintf(out->compatible, sizeof(out->compatible), "%s", state->compatible);
    out->fdt_addr = fdt_addr;
    out->fdt_crc32 = d.fdt_crc32;
    out->map_root = state->memory_map;
    out->blocks = sink.count_;
    out->preserved_bytes = sink.bytes_;
    out->metadata_pages = sink.pages_;
    out->subnodes = state->subnode_count;
    out->scratch_count = scratch.size();
    out->metadata_entries = uint32_t(meta_entries.size());
    out->data_entries = uint32_t(data_entries.size());
    out->protect.assign(protect.begin(), protect.end());
    return Status::ok();
}

// --- DevMem ------------------------------------------------------------------

namespace {
constexpr uint64_t kWindow = 2ull << 20;
}

DevMem::~DevMem() {
    for (auto& [start, w] : windows_) munmap(const_cast<uint8_t*>(w.data), w.end - start);
    for (auto& [data, size] : retired_) munmap(const_cast<uint8_t*>(data), size);
    if (fd_ >= 0) close(fd_);
}

std::string DevMem::open(const std::string& path, const std::vector<Range>& ram) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return path + ": " + std::strerror(errno);
    ram_ = ram;
    return "";
}

const Range* DevMem::ram_range(uint64_t addr, uint64_t len) const {
    auto it = std::upper_bound(ram_.begin(), ram_.end(), addr,
                               [](uint64_t a, const Range& r) { return a < r.start; });
    if (it == ram_.begin()) return nullptr;
    --it;
    if (addr >= it->end || len > it->end - addr) return nullptr;
    return &*it;
}

bool DevMem::is_ram(uint64_t addr, uint64_t len) const {
    // Adjacent iomem entries were coalesced, so one range must hold it all.
    return len == 0 ? ram_range(addr, 1) != nullptr : ram_range(addr, len) != nullptr;
}

const uint8_t* DevMem::view(uint64_t addr, uint64_t len) const {
    if (len == 0 || fd_ < 0) return nullptr;
    const Range* r = ram_range(addr, len);
    if (!r) return nullptr;
    auto it = windows_.upper_bound(addr);
    if (it != windows_.begin()) {
        --it;
        if (addr + len <= it->second.end) return it->second.data + (addr - it->first);
    }
    uint64_t start = std::max(addr & ~(kWindow - 1), r->start);
    uint64_t end = std::min((addr + len + kWindow - 1) & ~(kWindow - 1), r->end);
    void* p = mmap(nullptr, end - start, PROT_READ, MAP_SHARED, fd_, off_t(start));
    if (p == MAP_FAILED) {
        last_errno_ = errno;
        last_error_addr_ = start;
        return nullptr;
    }
    // A window that grew over an older one replaces it in the index; the
    // old mapping stays (its views may still be in use) until destruction.
    auto [slot, fresh] = windows_.try_emplace(start, Window{end, static_cast<const uint8_t*>(p)});
    if (!fresh) {
        if (slot->second.end >= end) {
            munmap(p, end - start);
        } else {
            retired_.push_back({slot->second.data, slot->second.end - start});
            slot->second = Window{end, static_cast<const uint8_t*>(p)};
        }
    }
    return slot->second.data + (addr - start);
}

std::string DevMem::probe() const {
    for (const Range& r : ram_) {
        uint64_t page = std::max(r.start, uint64_t(1) << 20);
        if (page + kPage > r.end) continue;
        uint8_t byte;
        if (read(page, &byte, 1)) return "";
        char buf[160];
        std::snprintf(buf, sizeof(buf), "cannot map RAM at 0x%llx through /dev/mem: %s%s",
                      (unsigned long long)page, std::strerror(last_errno_ ? last_errno_ : EIO),
                      last_errno_ == EPERM ? " (kernel built with CONFIG_STRICT_DEVMEM?)" : "");
        return buf;
    }
    return "iomem lists no RAM above 1 MiB";
}

}  // namespace exporting

// --- the command ---------------------------------------------------------------

namespace {

using namespace exporting;

constexpr const char kGuidText[] = "5b0bc4a2-8c1d-4e5f-9a3b-6b686f626f6f";
constexpr uint32_t kEfivarfsMagic = 0xde5e81e4;  // include/uapi/linux/magic.h

int usage() {
    std::fprintf(stderr,
                 "usage: khotool export [--debugfs DIR] [--mem FILE] [--iomem FILE]\n"
                 "                      [--efivars DIR] [--manifest full|metadata|none]\n"
                 "                      [--dry-run] [--verbose]\n"
                 "defaults: --debugfs /sys/kernel/debug/kho/out --mem /dev/mem --iomem /proc/iomem\n"
                 "          --efivars /sys/firmware/efi/efivars --manifest full\n");
    return 2;
}

int fail(const Status& s) {
    std::fprintf(stderr, "khotool: error %s: %s\n", err_name(s.code()), s.message());
    return 1;
}

int fail_io(const std::string& what) {
    std::fprintf(stderr, "khotool: error io: %s\n", what.c_str());
    return 1;
}

// Reads a whole small file; false with errno set on failure. `limit`
// bounds the read (debugfs blobs and pseudo files are small).
bool read_file(const std::string& path, std::string* out, size_t limit) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    out->clear();
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof(buf));
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            errno = e;
            return false;
        }
        if (n == 0) break;
        out->append(buf, size_t(n));
        if (out->size() > limit) break;
    }
    close(fd);
    return true;
}

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

std::string variable_path(const std::string& dir, const char* name) {
    return dir + "/" + name + "-" + kGuidText;
}

// efivarfs marks variables immutable unless their GUID is on its list of
// removable ones (fs/efivarfs/vars.c efivar_variable_is_removable()); an
// unknown vendor GUID is removable, but clear the flag anyway in case a
// newer kernel decides otherwise.
void clear_immutable(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    int flags = 0;
    if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && (flags & FS_IMMUTABLE_FL)) {
        flags &= ~FS_IMMUTABLE_FL;
        (void)ioctl(fd, FS_IOC_SETFLAGS, &flags);
    }
    close(fd);
}

// Deleting a variable = unlinking its efivarfs file. "" or an error.
std::string remove_variable(const std::string& path) {
    if (access(path.c_str(), F_OK) != 0) return "";
    clear_immutable(path);
    if (unlink(path.c_str()) != 0 && errno != ENOENT) return errno_text("unlink " + path);
    return "";
}

// One write() of attributes + data: efivarfs turns each write into one
// SetVariable() call (fs/efivarfs/file.c efivarfs_file_write()).
std::string write_variable(const std::string& path, const std::vector<uint8_t>& data) {
    std::vector<uint8_t> buf(4 + data.size());
    std::memcpy(buf.data(), &kVariableAttributes, 4);
    std::memcpy(buf.data() + 4, data.data(), data.size());
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return errno_text("create " + path);
    ssize_t n = ::write(fd, buf.data(), buf.size());
    int e = errno;
    close(fd);
    if (n != ssize_t(buf.size())) {
        errno = n < 0 ? e : EIO;
        return errno_text("write " + path);
    }
    // Read back what the firmware stored.
    std::string back;
    if (!read_file(path, &back, buf.size() + 4096)) return errno_text("read back " + path);
    if (back.size() != buf.size() || std::memcmp(back.data(), buf.data(), buf.size()) != 0)
        return "read back " + path + ": " + std::to_string(back.size()) +
               " bytes differ from the " + std::to_string(buf.size()) + " written";
    return "";
}

}  // namespace

int khotool_export(int argc, char** argv) {
    std::string debugfs = "/sys/kernel/debug/kho/out", mem_path = "/dev/mem", iomem = "/proc/iomem",
                efivars = "/sys/firmware/efi/efivars";
    ManifestLevel level = ManifestLevel::Full;
    bool dry_run = false, verbose = false;
    for (int i = 0; i < argc; ++i) {
        std::string a = argv[i];
        bool has_value = i + 1 < argc;
        if (a == "--debugfs" && has_value) debugfs = argv[++i];
        else if (a == "--mem" && has_value) mem_path = argv[++i];
        else if (a == "--iomem" && has_value) iomem = argv[++i];
        else if (a == "--efivars" && has_value) efivars = argv[++i];
        else if (a == "--manifest" && has_value) {
            std::string m = argv[++i];
            if (m == "full") level = ManifestLevel::Full;
            else if (m == "metadata") level = ManifestLevel::Metadata;
            else if (m == "none") level = ManifestLevel::None;
            else return usage();
        } else if (a == "--dry-run") dry_run = true;
        else if (a == "--verbose") verbose = true;
        else return usage();
    }

    // Any descriptor present now is stale: the running kernel owns all RAM,
    // so the state an earlier boot described is gone. Remove it first, so
    // that every failure below leaves no descriptor behind.
    const std::string desc_var = variable_path(efivars, abi::descriptor::kVariableName);
    const std::string manifest_var = variable_path(efivars, kManifestVariable);
    if (!dry_run) {
        struct statfs sfs;
        if (statfs(efivars.c_str(), &sfs) != 0)
            return fail_io(errno_text(efivars) + " (efivarfs not mounted, or not booted through UEFI)");
        // Only the real location must be efivarfs; a directory given with
        // --efivars (host tests) may live on any file system.
        if (efivars == "/sys/firmware/efi/efivars" && uint32_t(sfs.f_type) != kEfivarfsMagic)
            return fail_io(efivars + " is not efivarfs (mount -t efivarfs efivarfs " + efivars + ")");
        for (const std::string& v : {desc_var, manifest_var}) {
            std::string err = remove_variable(v);
            if (!err.empty()) return fail_io(err);
        }
    }

    std::string fdt_bytes, scratch_phys, scratch_len, iomem_text;
    if (!read_file(debugfs + "/fdt", &fdt_bytes, 4096))
        return fail_io(errno_text(debugfs + "/fdt") + " (kho=on? debugfs mounted?)");
    if (!read_file(debugfs + "/scratch_phys", &scratch_phys, 65536))
        return fail_io(errno_text(debugfs + "/scratch_phys"));
    if (!read_file(debugfs + "/scratch_len", &scratch_len, 65536))
        return fail_io(errno_text(debugfs + "/scratch_len"));
    if (!read_file(iomem, &iomem_text, 1 << 20)) return fail_io(errno_text(iomem));

    std::vector<abi::KhoScratch> scratch;
    Status s = parse_scratch_lists(scratch_phys, scratch_len, &scratch);
    if (!s) return fail(s);
    std::vector<Range> ram;
    s = parse_iomem_ram(iomem_text, &ram);
    if (!s) return fail(s);

    DevMem mem;
    std::string err = mem.open(mem_path, ram);
    if (err.empty()) err = mem.probe();
    if (!err.empty()) return fail_io(err);

    FdtLocation where;
    s = locate_root_fdt(mem, reinterpret_cast<const uint8_t*>(fdt_bytes.data()), fdt_bytes.size(),
                        &where);
    ExportPlan plan;
    if (s) s = plan_export(mem, where.fdt_addr, scratch, level, kManifestBudget, &plan);
    if (!s) {
        if (mem.last_errno())
            std::fprintf(stderr, "khotool: note: mapping 0x%llx through %s failed: %s\n",
                         (unsigned long long)mem.last_error_addr(), mem_path.c_str(),
                         std::strerror(mem.last_errno()));
        return fail(s);
    }

    if (verbose) {
        for (const abi::KhoScratch& sc : scratch)
            std::printf("scratch 0x%llx+0x%llx\n", (unsigned long long)sc.addr, (unsigned long long)sc.size);
        for (const Range& r : plan.protect)
            std::printf("protect 0x%llx-0x%llx\n", (unsigned long long)r.start, (unsigned long long)r.end);
    }

    if (!dry_run) {
        // The manifest first, the descriptor last: the descriptor is what
        // makes the loader act, so it must never name a missing manifest.
        if (!plan.manifest.empty()) {
            err = write_variable(manifest_var, plan.manifest);
            if (!err.empty()) {
                remove_variable(manifest_var);
                return fail_io(err);
            }
        }
        err = write_variable(desc_var, plan.descriptor);
        if (!err.empty()) {
            remove_variable(desc_var);
            remove_variable(manifest_var);
            return fail_io(err);
        }
    }
    std::printf("export %s compatible=%s fdt=0x%llx fdt_crc32=0x%08x map=0x%llx blocks=%llu "
                "preserved_bytes=%llu metadata_pages=%llu subnodes=%zu scratch=%zu protect=%zu "
                "manifest=%s entries=%u+%u bytes=%zu descriptor_bytes=%zu\n",
                dry_run ? "dry-run" : "ok", plan.compatible, (unsigned long long)plan.fdt_addr,
                plan.fdt_crc32, (unsigned long long)plan.map_root, (unsigned long long)plan.blocks,
                (unsigned long long)plan.preserved_bytes, (unsigned long long)plan.metadata_pages,
                plan.subnodes, plan.scratch_count, plan.protect.size(),
                manifest_level_name(plan.manifest_level), plan.metadata_entries, plan.data_entries,
                plan.manifest.size(), plan.descriptor.size());
    if (level == ManifestLevel::Full && plan.manifest_level != ManifestLevel::Full)
        std::printf("note: manifest holds metadata only: %u data ranges exceed the %zu-byte budget\n",
                    plan.data_entries, kManifestBudget);
    return 0;
}

}  // namespace kho::tools
