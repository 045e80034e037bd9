#include "consumer.h"

#include "../abi/kho_fdt.h"
#include "../abi/multikernel.h"
#include "../loader/crc32.h"
#include "../loader/format.h"
#include "fdt_view.h"
#include "kho_map_reader.h"
#include "paging.h"
#include "report.h"
#include "serial.h"
#include "shared/block_pattern.h"

namespace tk {

using namespace kho::abi;
using namespace kho::abi::x86;
namespace mf = manifest;

namespace {

constexpr uint64_t kPage = 4096;
constexpr size_t kMaxEntries = 1 << 20;
constexpr size_t kMaxMetadata = 1 << 16;

uint64_t g_seen[kMaxEntries / 64];
PageHashSet g_visited;
PageHashSet g_meta_seen;
uint64_t g_metadata[kMaxMetadata];

// What the consumer learned while checking, shared by the check steps.
struct Ctx {
    const BootInfo& bi;
    const Options& o;
    KhoData kd{};
    FdtView fdt;
    Placements placed;
    uint32_t scratch_count = 0;
    KhoScratch scratch[manifest::kMaxScratch] = {};
    KhoVersion version = KhoVersion::V4;
    const mf::Header* mh = nullptr;
    const mf::Entry* entries = nullptr;
    const mf::Retired* retired = nullptr;
    PhysRange own[3] = {};  // root FDT page, manifest blob (or v1 sub-FDT), page-rounded
    size_t own_count = 0;
    size_t metadata_count = 0;
    bool metadata_overflow = false;
};

bool streq(const char* a, const char* b) {
    while (*a && *a == *b) ++a, ++b;
    return *a == *b;
}

const char* format_name(uint32_t f) {
    switch (f) {
    case mf::kFormatV1Page: return "kho-v1(page bitmaps)";
    case mf::kFormatV1Bytes512: return "kho-v1(512-byte bitmaps)";
    case mf::kFormatV2: return "kho-v2";
    case mf::kFormatV3: return "kho-v3";
    case mf::kFormatV4: return "kho-v4";
    case mf::kFormatMultikernel: return "multikernel-v1";
    }
    return "unknown";
}

bool format_matches(uint32_t f, KhoVersion v) {
    switch (v) {
    case KhoVersion::V1: return f == mf::kFormatV1Page || f == mf::kFormatV1Bytes512;
    case KhoVersion::V2: return f == mf::kFormatV2;
    case KhoVersion::V3: return f == mf::kFormatV3;
    case KhoVersion::V4: return f == mf::kFormatV4;
    case KhoVersion::Multikernel1: return f == mf::kFormatMultikernel;
    }
    return false;
}

bool version_from(const char* compat, KhoVersion* v) {
    if (streq(compat, kCompatV1)) *v = KhoVersion::V1;
    else if (streq(compat, kCompatV2)) *v = KhoVersion::V2;
    else if (streq(compat, kCompatV3)) *v = KhoVersion::V3;
    else if (streq(compat, kCompatV4)) *v = KhoVersion::V4;
    else if (streq(compat, kCompatMultikernel1)) *v = KhoVersion::Multikernel1;
    else return false;
    return true;
}

// ---------------------------------------------------------------- boot_params
void check_boot_params(const BootInfo& bi, const Options& o) {
    const char* why = nullptr;
    uint64_t align = bi.image_start & -bi.image_start;
    if (bi.hdr.header != kHeaderMagic || bi.hdr.boot_flag != kBootFlag) why = "setup header not copied (HdrS/0xAA55)";
    else if (bi.hdr.version < kMinProtocol) why = "protocol version below 2.12";
    else if (bi.hdr.type_of_loader == 0) why = "type_of_loader not set";
    else if (bi.e820_count == 0) why = "no e820 entries";
    else if (!bi.is_ram(bi.image_start, bi.image_end)) why = "kernel image not in e820 RAM";
    else if (bi.image_start % (1ull << bi.hdr.min_alignment)) why = "kernel below its min_alignment";
    else if (!bi.cmdline_phys || !bi.cmdline_terminated) why = "command line missing or unterminated";
    else if (bi.setup_data_error) why = bi.setup_data_error;
    else if (bi.initrd_size && !bi.is_ram(bi.initrd_phys, bi.initrd_phys + bi.initrd_size)) why = "initrd not in e820 RAM";
    else if (o.efi_boot && bi.efi_signature != kEfi64LoaderSignature) why = "efi_info signature is not EL64";
    else if (o.efi_boot && !bi.efi_systab) why = "efi_info has no system table";
    else if (o.efi_boot && !bi.acpi_rsdp) why = "acpi_rsdp_addr is 0";
    for (uint32_t i = 0; !why && i < bi.e820_count; ++i) {
        const E820Entry& a = bi.e820[i];
        if (a.size == 0 || a.addr + a.size < a.addr) why = "empty or wrapping e820 entry";
        for (uint32_t j = 0; !why && j < i; ++j) {
            const E820Entry& b = bi.e820[j];
            if (a.addr < b.addr + b.size && b.addr < a.addr + a.size) why = "overlapping e820 entries";
        }
    }
    check("boot-params", !why,
          "%s loader=0x%x version=0x%x e820=%u image=0x%lx-0x%lx align=0x%lx%s rsdp=0x%lx efi=%s",
          why ? why : "sane", bi.hdr.type_of_loader, bi.hdr.version, bi.e820_count,
          (unsigned long)bi.image_start, (unsigned long)bi.image_end, (unsigned long)align,
          align >= bi.hdr.kernel_alignment ? "" : "(below kernel_alignment)",
          (unsigned long)bi.acpi_rsdp, bi.efi_signature == kEfi64LoaderSignature ? "EL64" : "none");
}

void check_cmdline(const BootInfo& bi, const Options& o) {
    println("TEST_KERNEL: info cmdline %s", bi.cmdline);
    if (o.error[0]) {
        check("cmdline", false, "malformed word '%s'", o.error);
    } else if (o.duplicate_key) {
        check("cmdline", false, "a tk.* key appears twice");
    } else if (!o.has_sum) {
        check("cmdline", false, "no tk.sum= word (not configured through scripts/lib/tk_cmdline.py?)");
    } else {
        check("cmdline", o.sum == o.sum_computed, "tk.sum=0x%08x computed=0x%08x plan=%s",
              o.sum, o.sum_computed, o.plan_text);
    }
}

// The initrd the entry names, byte for byte (tk.initrd=SIZE:CRC).
void check_initrd(const BootInfo& bi, const Options& o) {
    if (!o.has_initrd) return;
    const char* why = nullptr;
    uint32_t crc = 0;
    if (bi.initrd_size != o.initrd_size) why = "size differs";
    else if (!bi.initrd_phys || bi.initrd_phys + bi.initrd_size > kIdentityLimit ||
             !bi.is_ram(bi.initrd_phys, bi.initrd_phys + bi.initrd_size)) why = "not in e820 RAM";
    else if ((crc = kho::crc32(reinterpret_cast<const void*>(bi.initrd_phys), bi.initrd_size)) != o.initrd_crc)
        why = "content differs";
    check("initrd", !why, "%s addr=0x%lx size=%lu expected=%lu crc32=0x%08x expected=0x%08x",
          why ? why : "loaded intact", (unsigned long)bi.initrd_phys, (unsigned long)bi.initrd_size,
          (unsigned long)o.initrd_size, crc, o.initrd_crc);
}

void check_descriptor_consumed(const Options& o, const EfiRuntime* rt) {
    if (!o.efi_boot) return;
    if (!rt || !rt->ready()) {
        check("descriptor", false, "no UEFI runtime services to look for the variable");
        return;
    }
    char16_t name[sizeof(descriptor::kVariableName)];
    for (size_t i = 0; i < sizeof(name) / sizeof(name[0]); ++i) name[i] = descriptor::kVariableName[i];
    uint8_t buf[descriptor::kMaxSize];
    uint64_t size = sizeof(buf);
    uint32_t attrs = 0;
    EfiStatus s = rt->get_variable(name, descriptor::kVendorGuid, &attrs, &size, buf);
    check("descriptor", s == kEfiNotFound,
          s == kEfiNotFound ? "consumed (KhoHandover variable absent)"
                            : "KhoHandover variable still present (status 0x%lx): it could be used twice",
          (unsigned long)s);
}

// Returns the number of SETUP_KEXEC_KHO nodes; copies the first payload.
size_t kho_nodes(const BootInfo& bi, KhoData* kd, uint32_t* len) {
    size_t n = 0;
    for (size_t i = 0; i < bi.setup_data_count; ++i) {
        const SetupDataNode& s = bi.setup_data[i];
        if (s.type != kSetupKexecKho) continue;
        if (n++ == 0) {
            *len = s.len;
            if (s.len >= sizeof(KhoData))
                *kd = *reinterpret_cast<const KhoData*>(s.phys + sizeof(SetupData));
        }
    }
    return n;
}

// ---------------------------------------------------------------- FDT
bool check_fdt(Ctx& c, const char* expect) {
    const KhoData& kd = c.kd;
    const char* why = nullptr;
    if (kd.fdt_size != kRootFdtSize) why = "fdt_size is not 4096";
    else if (!kd.fdt_addr || kd.fdt_addr % kPage) why = "fdt_addr not page aligned";
    else if (kd.fdt_addr + kPage > kIdentityLimit || !c.bi.is_ram(kd.fdt_addr, kd.fdt_addr + kPage)) why = "FDT page not in e820 RAM";
    else if (!c.fdt.open(reinterpret_cast<const uint8_t*>(kd.fdt_addr), kPage, &why)) {
    } else if (!c.fdt.prop_is_string(FdtView::kRoot, "compatible", expect)) why = "root compatible differs";
    const uint8_t* v = nullptr;
    uint32_t len = 0;
    const char* got = "?";
    bool opened = c.fdt.total_size() != 0 && (!why || streq(why, "root compatible differs"));
    if (opened && c.fdt.prop(FdtView::kRoot, "compatible", &v, &len) && len && !v[len - 1])
        got = reinterpret_cast<const char*>(v);
    return check("fdt", !why, "%s addr=0x%lx size=%lu totalsize=%u compatible=%s expected=%s",
                 why ? why : "valid", (unsigned long)kd.fdt_addr, (unsigned long)kd.fdt_size,
                 why ? 0 : c.fdt.total_size(), got, expect);
}

// ---------------------------------------------------------------- multikernel
void check_multikernel(Ctx& c) {
    const char* why = nullptr;
    FdtView inst;
    const uint8_t* dtb = nullptr;
    uint32_t len = 0;
    int node = c.fdt.subnode(FdtView::kRoot, multikernel::kNode);
    if (c.kd.scratch_addr != multikernel::kScratchAddr || c.kd.scratch_size != multikernel::kScratchSize)
        why = "scratch is not 0/0";
    else if (node < 0) why = "no /multikernel node";
    else if (!c.fdt.prop(node, multikernel::kPropDtbData, &dtb, &len)) why = "no dtb-data";
    else if (!inst.open(dtb, len, &why)) {
    } else if (!inst.prop_is_string(FdtView::kRoot, "compatible", "khoboot,test-instance")) why = "instance DTB compatible differs";
    check("multikernel", !why, "%s scratch=0x%lx/0x%lx dtb-data=%u bytes", why ? why : "instance DTB intact",
          (unsigned long)c.kd.scratch_addr, (unsigned long)c.kd.scratch_size, len);
    const Placement* p = c.placed.overlapping(c.kd.fdt_addr, c.kd.fdt_addr + kPage);
    check("preserved-ram", !p, "%s%s", p ? "FDT page overlaps " : "FDT page is RAM and clear of the loader's placements",
          p ? p->name : "");
}

// ---------------------------------------------------------------- scratch
bool check_scratch_table(Ctx& c) {
    const KhoData& kd = c.kd;
    const char* why = nullptr;
    uint64_t n = kd.scratch_size / sizeof(KhoScratch);
    if (kd.scratch_size % sizeof(KhoScratch) || n == 0) why = "scratch_size not a positive multiple of 16";
    else if (n > manifest::kMaxScratch) why = "more than 16 scratch regions";
    else if (!c.bi.is_ram(kd.scratch_addr, kd.scratch_addr + kd.scratch_size)) why = "scratch table not in e820 RAM";
    if (!why) {
        c.scratch_count = uint32_t(n);
        const KhoScratch* t = reinterpret_cast<const KhoScratch*>(kd.scratch_addr);
        for (uint32_t i = 0; i < n; ++i) c.scratch[i] = t[i];
        for (uint32_t i = 0; !why && i < n; ++i) {
            const KhoScratch& s = c.scratch[i];
            if ((s.addr | s.size) % kPage) why = "scratch region not page aligned";
            else if (s.size && !c.bi.is_ram(s.addr, s.addr + s.size)) why = "scratch region not e820 RAM";
            for (uint32_t j = 0; !why && j < i; ++j)
                if (s.addr < c.scratch[j].addr + c.scratch[j].size && c.scratch[j].addr < s.addr + s.size)
                    why = "scratch regions overlap";
        }
    }
    uint64_t total = 0;
    for (uint32_t i = 0; i < c.scratch_count; ++i) total += c.scratch[i].size;
    return check("scratch-table", !why, "%s table=0x%lx regions=%lu bytes=0x%lx", why ? why : "sane",
                 (unsigned long)kd.scratch_addr, (unsigned long)n, (unsigned long)total);
}

void check_placement(Ctx& c) {
    int in = -1;
    for (uint32_t i = 0; i < c.scratch_count; ++i) {
        const KhoScratch& s = c.scratch[i];
        if (s.addr <= c.bi.image_start && c.bi.image_end <= s.addr + s.size) in = int(i);
    }
    bool initrd_in = c.bi.initrd_size == 0;
    for (uint32_t i = 0; i < c.scratch_count; ++i) {
        const KhoScratch& s = c.scratch[i];
        if (s.addr <= c.bi.initrd_phys && c.bi.initrd_phys + c.bi.initrd_size <= s.addr + s.size) initrd_in = true;
    }
    // kexec puts every segment into scratch (kho_locate_mem_hole(),
    // kho-abi.md 4.4); the firmware path is held to the same.
    check("placement", in >= 0 && initrd_in, "kernel 0x%lx-0x%lx %s %d, initrd %s",
          (unsigned long)c.bi.image_start, (unsigned long)c.bi.image_end,
          in >= 0 ? "inside scratch region" : "outside every scratch region", in,
          c.bi.initrd_size ? (initrd_in ? "inside scratch" : "outside scratch") : "none");
}

// ---------------------------------------------------------------- manifest
bool locate_manifest(Ctx& c, const char** why, uint64_t* blob, uint64_t* blob_size) {
    int node = c.fdt.subnode(FdtView::kRoot, manifest::kSubnodeName);
    if (node < 0) return *why = "no khoboot-test sub-node in the root FDT", false;
    if (c.version == KhoVersion::V1) {
        uint64_t sub;
        if (!c.fdt.prop_u64_native(node, kPropSubFdtV1, &sub)) return *why = "khoboot-test has no 8-byte 'fdt'", false;
        if (sub % 8 || !c.bi.is_ram(sub, sub + 40)) return *why = "sub-FDT header not in RAM", false;
        const uint8_t* h = reinterpret_cast<const uint8_t*>(sub);
        uint64_t total = uint32_t(h[4]) << 24 | uint32_t(h[5]) << 16 | uint32_t(h[6]) << 8 | h[7];
        if (!c.bi.is_ram(sub, sub + total)) return *why = "sub-FDT not in RAM", false;
        FdtView sf;
        if (!sf.open(h, total, why)) return false;
        if (!sf.prop_is_string(FdtView::kRoot, "compatible", manifest::kSubFdtCompatible))
            return *why = "sub-FDT compatible differs", false;
        const uint8_t* v;
        uint32_t len;
        if (!sf.prop(FdtView::kRoot, manifest::kSubFdtProperty, &v, &len)) return *why = "sub-FDT has no 'manifest'", false;
        c.own[c.own_count++] = PhysRange{sub & ~(kPage - 1), (sub + total + kPage - 1) & ~(kPage - 1)};
        *blob = reinterpret_cast<uint64_t>(v);
        *blob_size = len;
        return true;
    }
    uint64_t p, size = 0;
    if (!c.fdt.prop_u64_native(node, kPropPreservedData, &p)) return *why = "khoboot-test has no 8-byte preserved-data", false;
    bool has_size = c.fdt.prop_u64_native(node, kPropBlobSize, &size);
    if (has_blob_size(c.version) && !has_size) return *why = "kho-v3+ sub-node without blob-size", false;
    if (!c.bi.is_ram(p, p + sizeof(mf::Header))) return *why = "manifest not in RAM", false;
    if (!has_size) size = reinterpret_cast<const mf::Header*>(p)->total_size;
    if (!c.bi.is_ram(p, p + size)) return *why = "manifest blob not in RAM", false;
    c.own[c.own_count++] = PhysRange{p & ~(kPage - 1), (p + size + kPage - 1) & ~(kPage - 1)};
    *blob = p;
    *blob_size = size;
    return true;
}

bool check_manifest(Ctx& c) {
    const char* why = nullptr;
    uint64_t blob = 0, blob_size = 0;
    if (locate_manifest(c, &why, &blob, &blob_size)) {
        const mf::Header* h = reinterpret_cast<const mf::Header*>(blob);
        mf::Header copy = *h;
        copy.header_crc32 = 0;
        if (blob_size < sizeof(mf::Header)) why = "blob smaller than the header";
        else if (h->magic != mf::kMagic || h->version != mf::kVersion || h->header_size != sizeof(mf::Header)) why = "bad magic/version";
        else if (kho::crc32(&copy, sizeof(copy)) != h->header_crc32) why = "header CRC mismatch";
        else if (h->entry_count > kMaxEntries || h->retired_count > kMaxEntries) why = "too many records";
        else if (h->total_size != mf::total_size(h->entry_count, h->retired_count) || h->total_size > blob_size) why = "sizes disagree";
        else if (kho::crc32(h + 1, h->total_size - sizeof(mf::Header)) != h->body_crc32) why = "body CRC mismatch";
        else if (h->root_fdt != c.kd.fdt_addr) why = "manifest belongs to another root FDT";
        else if (!format_matches(h->format, c.version)) why = "manifest format does not match the compatible";
        else if (h->scratch_count > manifest::kMaxScratch) why = "scratch_count too big";
        if (!why) {
            c.mh = h;
            c.entries = reinterpret_cast<const mf::Entry*>(h + 1);
            c.retired = reinterpret_cast<const mf::Retired*>(c.entries + h->entry_count);
            for (uint64_t i = 0; !why && i < h->entry_count; ++i) {
                const mf::Entry& e = c.entries[i];
                if (e.order > 40 || e.phys % (kPage << e.order)) why = "entry not naturally aligned";
                else if (i && c.entries[i - 1].phys + (kPage << c.entries[i - 1].order) > e.phys) why = "entries not sorted and disjoint";
            }
            for (uint64_t i = 1; !why && i < h->retired_count; ++i)
                if (c.retired[i - 1].phys >= c.retired[i].phys) why = "retired records not sorted";
        }
    }
    const mf::Header* h = c.mh;
    return check("manifest", !why, "%s addr=0x%lx hop=%u format=%s entries=%lu retired=%lu",
                 why ? why : "valid", (unsigned long)blob, h ? h->hop : 0,
                 h ? format_name(h->format) : "?", (unsigned long)(h ? h->entry_count : 0),
                 (unsigned long)(h ? h->retired_count : 0));
}

void check_scratch_matches(Ctx& c) {
    bool same = c.mh->scratch_count == c.scratch_count;
    for (uint32_t i = 0; same && i < c.scratch_count; ++i)
        same = c.mh->scratch[i].addr == c.scratch[i].addr && c.mh->scratch[i].size == c.scratch[i].size;
    check("scratch", same, "%s (%u regions passed, %u produced; first 0x%lx+0x%lx)",
          same ? "the table passed is the one produced" : "table differs from the producer's",
          c.scratch_count, c.mh->scratch_count, (unsigned long)c.scratch[0].addr,
          (unsigned long)c.scratch[0].size);
}

// ---------------------------------------------------------------- map
size_t lower_bound_entry(const mf::Entry* e, size_t n, uint64_t phys) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (e[mid].phys < phys) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

// Compares the decoded map with the manifest, block by block.
struct MapCompare {
    Ctx& c;
    uint64_t matched = 0, own_bytes = 0, unknown = 0, wrong_order = 0, duplicate = 0, retired_hits = 0;
    char first[120] = {};

    void note(const char* what, uint64_t phys, unsigned order) {
        if (!first[0]) kho::format(first, sizeof(first), "%s 0x%lx order %u", what, (unsigned long)phys, order);
    }
    bool block(uint64_t phys, unsigned order) {
        uint64_t size = kPage << order;
        size_t n = c.mh->entry_count;
        size_t i = lower_bound_entry(c.entries, n, phys);
        if (i < n && c.entries[i].phys == phys) {
            if (c.entries[i].order != order) {
                ++wrong_order;
                note("order differs at", phys, order);
            } else if (g_seen[i / 64] & (1ull << (i % 64))) {
                ++duplicate;
                note("listed twice:", phys, order);
            } else {
                g_seen[i / 64] |= 1ull << (i % 64);
                ++matched;
            }
        } else {
            bool own = false;
            for (size_t k = 0; k < c.own_count; ++k)
                if (c.own[k].contains(phys, phys + size)) own = true;
            if (own) own_bytes += size;
            else {
                ++unknown;
                note("not in the manifest:", phys, order);
            }
        }
        size_t lo = 0, hi = c.mh->retired_count;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (c.retired[mid].phys < phys) lo = mid + 1;
            else hi = mid;
        }
        if (lo < c.mh->retired_count && c.retired[lo].phys == phys && c.retired[lo].order == order) {
            ++retired_hits;
            note("retired block still preserved:", phys, order);
        }
        return true;
    }
    bool metadata(uint64_t page) {
        if (g_meta_seen.insert(page) == PageHashSet::Result::Added) {
            if (c.metadata_count < kMaxMetadata) g_metadata[c.metadata_count++] = page;
            else c.metadata_overflow = true;
        }
        return true;
    }
};

bool check_map(Ctx& c) {
    uint64_t map;
    if (!c.fdt.prop_u64_native(FdtView::kRoot, kPropPreservedMemoryMap, &map))
        return check("map", false, "no 8-byte preserved-memory-map");
    for (size_t i = 0; i < (c.mh->entry_count + 63) / 64; ++i) g_seen[i] = 0;
    g_visited.clear();
    g_meta_seen.clear();
    MapReader reader(c.bi, g_visited);
    MapCompare cmp{c};
    MapReadStats st;
    MapError err{};
    bool ok;
    if (c.version == KhoVersion::V1) {
        auto layout = c.mh->format == mf::kFormatV1Bytes512 ? v1::BitmapLayout::Bytes512 : v1::BitmapLayout::Page;
        ok = reader.read_v1(map, layout, cmp, &st, &err);
    } else {
        ok = reader.read_radix(map, cmp, &st, &err);
    }
    if (!ok) return check("map", false, "decode failed: %s", err.text);
    // The producer preserves its own structures like any KHO user's data
    // (Linux 6.19+ preserves the root FDT page; sub-blobs are folios).
    uint64_t own_total = 0;
    for (size_t k = 0; k < c.own_count; ++k) own_total += c.own[k].end - c.own[k].start;
    uint64_t missing = c.mh->entry_count - cmp.matched;
    bool good = !missing && !cmp.unknown && !cmp.wrong_order && !cmp.duplicate && !cmp.retired_hits &&
                cmp.own_bytes == own_total && !c.metadata_overflow;
    return check("map", good,
                 "%s blocks=%lu matched=%lu missing=%lu unknown=%lu order-mismatch=%lu twice=%lu "
                 "retired-present=%lu own-bytes=0x%lx/0x%lx tables=%lu leaves=%lu metadata-pages=%lu %s",
                 good ? "map lists exactly the manifest" : "map differs from the manifest",
                 (unsigned long)st.blocks, (unsigned long)cmp.matched, (unsigned long)missing,
                 (unsigned long)cmp.unknown, (unsigned long)cmp.wrong_order, (unsigned long)cmp.duplicate,
                 (unsigned long)cmp.retired_hits, (unsigned long)cmp.own_bytes, (unsigned long)own_total,
                 (unsigned long)st.tables, (unsigned long)st.leaves, (unsigned long)c.metadata_count,
                 cmp.first);
}

// ---------------------------------------------------------------- RAM / overlap
bool overlaps_entry(const Ctx& c, uint64_t start, uint64_t end) {
    size_t n = c.mh->entry_count;
    size_t i = lower_bound_entry(c.entries, n, start);
    if (i < n && c.entries[i].phys < end) return true;
    if (i > 0 && c.entries[i - 1].phys + (kPage << c.entries[i - 1].order) > start) return true;
    return false;
}

const char* range_problem(const Ctx& c, uint64_t start, uint64_t end) {
    if (end > kIdentityLimit || !c.bi.is_ram(start, end)) return "not e820 RAM";
    if (const Placement* p = c.placed.overlapping(start, end)) return p->name;
    for (uint32_t i = 0; i < c.scratch_count; ++i)
        if (c.scratch[i].addr < end && start < c.scratch[i].addr + c.scratch[i].size) return "scratch";
    return nullptr;
}

void check_preserved_ram(Ctx& c) {
    uint64_t bad = 0, bad_addr = 0;
    const char* what = nullptr;
    auto note = [&](uint64_t a, const char* w) {
        if (!bad++) bad_addr = a, what = w;
    };
    for (uint64_t i = 0; i < c.mh->entry_count; ++i) {
        const mf::Entry& e = c.entries[i];
        if (const char* w = range_problem(c, e.phys, e.phys + (kPage << e.order))) note(e.phys, w);
    }
    for (size_t k = 0; k < c.own_count; ++k)
        if (const char* w = range_problem(c, c.own[k].start, c.own[k].end)) note(c.own[k].start, w);
    for (size_t k = 0; k < c.metadata_count; ++k) {
        uint64_t p = g_metadata[k];
        if (const char* w = range_problem(c, p, p + kPage)) note(p, w);
        else if (overlaps_entry(c, p, p + kPage)) note(p, "a preserved block");
        for (size_t o = 0; o < c.own_count; ++o)
            if (c.own[o].overlaps(p, p + kPage)) note(p, "the root FDT or manifest");
    }
    check("preserved-ram", bad == 0,
          "%s blocks=%lu metadata=%lu loader-placements=%lu%s%s at 0x%lx",
          bad ? "overlap or not RAM:" : "all RAM, clear of scratch and of the loader's placements",
          (unsigned long)c.mh->entry_count, (unsigned long)c.metadata_count,
          (unsigned long)c.placed.count, bad ? " " : "", bad ? what : "", (unsigned long)bad_addr);
}

// ---------------------------------------------------------------- contents
void check_contents(Ctx& c) {
    uint64_t bad_blocks = 0, bytes = 0, first_addr = 0, got = 0, want = 0, digest_bad = 0;
    for (uint64_t i = 0; i < c.mh->entry_count; ++i) {
        const mf::Entry& e = c.entries[i];
        pattern::Extents x = pattern::extents(e.phys, e.order, e.fill);
        pattern::Digest d;
        bool block_bad = false;
        for (unsigned k = 0; k < x.count; ++k) {
            const uint64_t* w = reinterpret_cast<const uint64_t*>(x.start[k]);
            for (uint64_t j = 0; j < x.len[k] / 8; ++j) {
                uint64_t expect = pattern::word_at(e.seed, x.start[k] + 8 * j);
                uint64_t v = w[j];
                d.add(v);
                if (v != expect && !block_bad) {
                    block_bad = true;
                    if (!bad_blocks) first_addr = x.start[k] + 8 * j, got = v, want = expect;
                }
            }
            bytes += x.len[k];
        }
        if (d.h != e.digest) ++digest_bad;
        if (block_bad) ++bad_blocks;
    }
    check("contents", !bad_blocks && !digest_bad,
          "%s blocks=%lu bytes=0x%lx corrupt=%lu digest-mismatch=%lu first=0x%lx got=0x%lx want=0x%lx",
          bad_blocks || digest_bad ? "preserved bytes changed" : "every block holds the producer's bytes",
          (unsigned long)c.mh->entry_count, (unsigned long)bytes, (unsigned long)bad_blocks,
          (unsigned long)digest_bad, (unsigned long)first_addr, (unsigned long)got, (unsigned long)want);
}

}  // namespace

// ---------------------------------------------------------------- placements
void Placements::add(const char* name, uint64_t start, uint64_t end) {
    if (end > start && count < kMax) p[count++] = Placement{name, start, end};
}

const Placement* Placements::overlapping(uint64_t start, uint64_t end) const {
    for (size_t i = 0; i < count; ++i)
        if (p[i].start < end && start < p[i].end) return &p[i];
    return nullptr;
}

void collect_placements(const BootInfo& bi, uint64_t scratch_table, uint64_t scratch_size,
                        Placements* out) {
    out->count = 0;
    out->add("kernel", bi.image_start, bi.image_end);
    out->add("initrd", bi.initrd_phys, bi.initrd_phys + bi.initrd_size);
    out->add("boot_params", bi.bp_phys, bi.bp_phys + kPage);
    out->add("cmdline", bi.cmdline_phys, bi.cmdline_phys + bi.cmdline_len + 1);
    for (size_t i = 0; i < bi.setup_data_count; ++i)
        out->add("setup_data", bi.setup_data[i].phys,
                 bi.setup_data[i].phys + sizeof(SetupData) + bi.setup_data[i].len);
    out->add("scratch-table", scratch_table, scratch_table + scratch_size);
    out->add("efi-memmap", bi.efi_memmap, bi.efi_memmap + bi.efi_memmap_size);
}

void consume(const BootInfo& bi, const Options& o, ConsumeKind kind, const EfiRuntime* rt,
             ConsumedState* out) {
    *out = ConsumedState{};
    Ctx c{bi, o};
    check_boot_params(bi, o);
    check_cmdline(bi, o);
    check_initrd(bi, o);
    check_descriptor_consumed(o, rt);

    uint32_t len = 0;
    size_t nodes = kho_nodes(bi, &c.kd, &len);
    size_t want = kind == ConsumeKind::Cold ? 0 : 1;
    check("setup-data", nodes == want && (nodes == 0 || len == sizeof(KhoData)),
          "%lu SETUP_KEXEC_KHO node(s), expected %lu; %lu node(s) in the chain; len=%u "
          "fdt=0x%lx/0x%lx scratch=0x%lx/0x%lx",
          (unsigned long)nodes, (unsigned long)want, (unsigned long)bi.setup_data_count, len,
          (unsigned long)c.kd.fdt_addr, (unsigned long)c.kd.fdt_size,
          (unsigned long)c.kd.scratch_addr, (unsigned long)c.kd.scratch_size);
    if (kind == ConsumeKind::Cold || nodes != 1) return;

    collect_placements(bi, c.kd.scratch_addr, c.kd.scratch_size, &c.placed);
    const char* expect = kind == ConsumeKind::Multikernel ? kCompatMultikernel1 : o.expect_compat;
    if (!check_fdt(c, expect)) return;
    if (kind == ConsumeKind::Multikernel) {
        check_multikernel(c);
        return;
    }
    if (!version_from(expect, &c.version) || c.version == KhoVersion::Multikernel1) {
        check("fdt", false, "tk.compat=%s is not a KHO version", expect);
        return;
    }
    c.own[c.own_count++] = PhysRange{c.kd.fdt_addr, c.kd.fdt_addr + kPage};
    if (!check_scratch_table(c)) return;
    check_placement(c);
    if (!check_manifest(c)) return;
    check_scratch_matches(c);
    bool map_ok = check_map(c);
    check_preserved_ram(c);
    check_contents(c);
    if (!map_ok || any_check_failed()) return;

    out->valid = true;
    out->fdt_addr = c.kd.fdt_addr;
    out->scratch_table = c.kd.scratch_addr;
    out->scratch_table_size = c.kd.scratch_size;
    out->scratch_count = c.scratch_count;
    for (uint32_t i = 0; i < c.scratch_count; ++i) out->scratch[i] = c.scratch[i];
    out->header = c.mh;
    out->entries = c.entries;
    out->hop = c.mh->hop;
    out->own_count = c.own_count;
    for (size_t k = 0; k < c.own_count; ++k) out->own[k] = c.own[k];
    out->metadata = g_metadata;
    out->metadata_count = c.metadata_count;
}

}  // namespace tk
