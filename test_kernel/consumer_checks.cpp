#include "consumer_checks.h"

#include "../loader/crc32.h"
#include "../loader/format.h"
#include "paging.h"
#include "report.h"
#include "serial.h"

namespace tk {

using namespace kho::abi;
using namespace kho::abi::x86;

namespace checks {

bool streq(const char* a, const char* b) {
    while (*a && *a == *b) ++a, ++b;
    return *a == *b;
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

size_t check_setup_data(Ctx& c, size_t want) {
    const BootInfo& bi = c.bi;
    size_t nodes = 0;
    uint32_t len = 0;
    for (size_t i = 0; i < bi.setup_data_count; ++i) {
        const SetupDataNode& s = bi.setup_data[i];
        if (s.type != kSetupKexecKho) continue;
        if (nodes++ == 0) {
            len = s.len;
            if (s.len >= sizeof(KhoData))
                c.kd = *reinterpret_cast<const KhoData*>(s.phys + sizeof(SetupData));
        }
    }
    check("setup-data", nodes == want && (nodes == 0 || len == sizeof(KhoData)),
          "%lu SETUP_KEXEC_KHO node(s), expected %lu; %lu node(s) in the chain; len=%u "
          "fdt=0x%lx/0x%lx scratch=0x%lx/0x%lx",
          (unsigned long)nodes, (unsigned long)want, (unsigned long)bi.setup_data_count, len,
          (unsigned long)c.kd.fdt_addr, (unsigned long)c.kd.fdt_size,
          (unsigned long)c.kd.scratch_addr, (unsigned long)c.kd.scratch_size);
    return nodes;
}

// ---------------------------------------------------------------- FDT
bool check_fdt(Ctx& c, const char* expect, uint64_t* map) {
    const KhoData& kd = c.kd;
    const char* why = nullptr;
    if (kd.fdt_size != kRootFdtSize) why = "fdt_size is not 4096";
    else if (!kd.fdt_addr || kd.fdt_addr % kPage) why = "fdt_addr not page aligned";
    else if (kd.fdt_addr + kPage > kIdentityLimit || !c.bi.is_ram(kd.fdt_addr, kd.fdt_addr + kPage)) why = "FDT page not in e820 RAM";
    else if (!c.fdt.open(reinterpret_cast<const uint8_t*>(kd.fdt_addr), kPage, &why)) {
    } else if (!c.fdt.prop_is_string(FdtView::kRoot, "compatible", expect)) why = "root compatible differs";
    // 6.19+ consumers refuse a state whose map pointer is 0 or missing
    // (docs/kho-abi.md 8.1), so a state without one is broken, not empty.
    else if (map && !c.fdt.prop_u64_native(FdtView::kRoot, kPropPreservedMemoryMap, map)) why = "no 8-byte preserved-memory-map";
    else if (map && !*map) why = "preserved-memory-map is 0";
    const uint8_t* v = nullptr;
    uint32_t len = 0;
    const char* got = "?";
    bool opened = c.fdt.total_size() != 0 && (!why || streq(why, "root compatible differs"));
    if (opened && c.fdt.prop(FdtView::kRoot, "compatible", &v, &len) && len && !v[len - 1])
        got = reinterpret_cast<const char*>(v);
    char map_text[32] = "";
    if (map) kho::format(map_text, sizeof(map_text), " map=0x%lx", (unsigned long)*map);
    return check("fdt", !why, "%s addr=0x%lx size=%lu totalsize=%u compatible=%s expected=%s%s",
                 why ? why : "valid", (unsigned long)kd.fdt_addr, (unsigned long)kd.fdt_size,
                 why ? 0 : c.fdt.total_size(), got, expect, map_text);
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
    // docs/kho-abi.md 7.3); the firmware path is held to the same.
    check("placement", in >= 0 && initrd_in, "kernel 0x%lx-0x%lx %s %d, initrd %s",
          (unsigned long)c.bi.image_start, (unsigned long)c.bi.image_end,
          in >= 0 ? "inside scratch region" : "outside every scratch region", in,
          c.bi.initrd_size ? (initrd_in ? "inside scratch" : "outside scratch") : "none");
}

// ---------------------------------------------------------------- RAM / overlap
const char* range_problem(const Ctx& c, uint64_t start, uint64_t end) {
    if (end > kIdentityLimit || !c.bi.is_ram(start, end)) return "not e820 RAM";
    if (const Placement* p = c.placed.overlapping(start, end)) return p->name;
    for (uint32_t i = 0; i < c.scratch_count; ++i)
        if (c.scratch[i].addr < end && start < c.scratch[i].addr + c.scratch[i].size) return "scratch";
    return nullptr;
}

}  // namespace checks

using checks::kPage;

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

}  // namespace tk
