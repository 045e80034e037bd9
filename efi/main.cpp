// khoboot's UEFI entry: the order of the boot and the firmware calls it
// needs. Every decision (validation, policy, placement, boot_params) is
// made by the portable core in loader/; this file sequences it.
//
// Order matters for KHO: the preserved memory is Conventional memory in
// the firmware's eyes until the loader owns it, so nothing the loader does
// may allocate before the protection step. Working storage therefore
// comes from this image (the arena below), and the descriptor variable is
// read and the state protected before any file is opened. A static setup
// (kho-fdt / kho-scratch in the entry) can only be known after reading the
// entry; its protection follows directly.
#include <string.h>

#include "../abi/boot_record.h"
#include "../abi/efi_memory.h"
#include "../abi/handover_descriptor.h"
#include "../abi/x86_boot.h"
#include "../loader/boot_attempt.h"
#include "../loader/boot_entry.h"
#include "../loader/boot_params_builder.h"
#include "../loader/bzimage.h"
#include "../loader/cmdline.h"
#include "../loader/crc32.h"
#include "../loader/format.h"
#include "../loader/handover_descriptor.h"
#include "../loader/kernel_placement.h"
#include "../loader/kho_fdt_reader.h"
#include "../loader/loader_limits.h"
#include "../loader/memory_plan.h"
#include "../loader/protected_set.h"
#include "../loader/protection_plan.h"
#include "../loader/state_verify.h"
#include "acpi.h"
#include "clock.h"
#include "esp_files.h"
#include "firmware_memory.h"
#include "handover_variable.h"
#include "log.h"
#include "uefi.h"

#ifndef KHOBOOT_VERSION
#define KHOBOOT_VERSION "dev"
#endif

extern "C" void khoboot_enter_linux64(uint64_t entry, uint64_t boot_params)
    __attribute__((noreturn));

namespace khoefi {

EFI_HANDLE g_image;
EFI_SYSTEM_TABLE* g_st;
EFI_BOOT_SERVICES* g_bs;

namespace {

using kho::Err;
using kho::Range;
using kho::RangeSet;
using kho::Status;
namespace x86 = kho::abi::x86;
namespace efi = kho::abi::efi;

// --- the arena: all working storage, in the image ------------------------
constexpr size_t kMapBytes = kho::limits::kMapBytes;
// Before the state is protected only the arena can be used: the planner's
// storage grows with the firmware map (kMapDescriptors), the refused
// state's coarse extent with it, plus the conflicting ranges it names.
constexpr size_t kMapDescriptors = kMapBytes / sizeof(efi::MemoryDescriptor);
constexpr size_t kOutsideRanges = kho::limits::kOutsideRanges;
constexpr size_t kProtectRanges = kMapDescriptors + kOutsideRanges + 64;
constexpr size_t kVisitedSlots = kho::limits::kVisitedPages;
constexpr size_t kMaxEntries = 64;
constexpr size_t kMapSlack = 64;  // descriptors our own allocations may add
constexpr size_t kReserveLinesMax = 512;

alignas(8) uint8_t g_map_buf[kMapBytes];
// One RAM range per descriptor the map buffer can hold: never full.
Range g_ram_ranges[kMapBytes / sizeof(efi::MemoryDescriptor)];
Range g_protect[kProtectRanges];
Range g_allocate[kMapDescriptors + 2 * kho::abi::descriptor::kMaxScratch];
Range g_free_regions[kMapDescriptors], g_hulls[kMapDescriptors], g_outside[kOutsideRanges];
Range g_scratch_free[512];
Range g_overlaps[512];
Range g_scratch_ranges[kho::abi::descriptor::kMaxScratch];
Range g_work[2 * (kMapDescriptors + kho::abi::descriptor::kMaxScratch)];
Range g_free[kMapDescriptors], g_fw_ram[kMapDescriptors];
// Large enough for free RAM minus a refused state's ranges (a cold boot
// keeps off them), which splits free RAM once per preserved range.
Range g_data_space[kMapDescriptors + kProtectRanges];
kho::Conflict g_conflicts[8];
uint64_t g_visited[kVisitedSlots];
kho::KhoState g_state;
kho::HandoverDescriptor g_desc;
alignas(8) uint8_t g_desc_raw[kho::abi::descriptor::kMaxSize];
// The KhoManifest variable. OVMF's largest variable is 33 KiB
// (PcdMaxVariableSize 0x8400 in its 4 MiB build); the export tool keeps
// its manifests under 16 KiB.
alignas(8) uint8_t g_manifest_var[64 * 1024];
char g_text[64 * 1024];
char g_ids[kMaxEntries][64];
kho::BootEntry g_entry;
kho::LoaderConf g_conf;
kho::LoadOptions g_load_options;
char g_load_text[2048];
char g_cmdline_buf[8192];
uint8_t g_kernel_prefix[kho::kBzImagePrefix];
x86::E820Entry g_e820[kMapBytes / sizeof(efi::MemoryDescriptor)];
alignas(8) uint8_t g_memblock_fdt[64 * 1024];
kho::ReserveMemRegion g_regions[8];

template <size_t N>
size_t count_of(const Range (&)[N]) {
    return N;
}

// Objects over the arena. Built in efi_main(), not as globals: gnu-efi's
// crt0 runs no constructors.
struct Sets {
    EfiPhysMem mem{g_ram_ranges, count_of(g_ram_ranges)};
    RangeSet protect{g_protect, kProtectRanges};
    RangeSet allocate{g_allocate, count_of(g_allocate)};
    RangeSet scratch_free{g_scratch_free, count_of(g_scratch_free)};
    RangeSet overlaps{g_overlaps, count_of(g_overlaps)};
    RangeSet scratch{g_scratch_ranges, count_of(g_scratch_ranges)};
};
Sets* g_sets;

// --- state of this boot ----------------------------------------------------
struct KhoProgress {
    bool found = false;      // a descriptor or static keys named a state
    bool from_variable = false;
    bool usable = false;     // validated, protected and (kho-verify) intact
    bool multikernel = false;
    bool manifest_variable = false;  // KhoManifest exists (consumed with the descriptor)
    // The manifest verify_state() checks: in RAM (descriptor kFlagManifest,
    // protected with the state) or the KhoManifest variable's bytes.
    bool manifest_in_ram = false;
    const void* manifest = nullptr;
    size_t manifest_len = 0;
    // KhoManifest exists but could not be read (too large, firmware error):
    // a state whose manifest cannot be checked fails any level but off.
    bool manifest_unreadable = false;
    uint64_t metadata_bytes = 0;  // bounds the manifest (ProtectStats)
};
char g_manifest_error[kho::Status::kMessageSize];
KhoProgress g_kho;

// What this boot did, for the KhoBootStatus variable: the first error
// line, the phases, the outcome.
// constinit: gnu-efi's crt0 runs no constructors.
constinit kho::BootStatus g_status{};
char g_first_kind[24];
char g_first_message[kho::Status::kMessageSize];
// The attempt record is written (and must be cleared when the boot ends).
bool g_attempt_recorded;

void log_error(const Status& s) {
    logf("error %s %s", kho::err_name(s.code()), s.message());
    if (g_status.error_kind) return;
    kho::format(g_first_kind, sizeof(g_first_kind), "%s", kho::err_name(s.code()));
    kho::format(g_first_message, sizeof(g_first_message), "%s", s.message());
    g_status.error_kind = g_first_kind;
    g_status.message = g_first_message;
}

uint64_t mark_phase(const char* name, uint64_t start) {
    uint64_t now = log_phase(name, start);
    if (g_status.phase_count < kho::BootStatus::kMaxPhases)
        g_status.phases[g_status.phase_count++] = {name, clock_us(now) - clock_us(start)};
    return now;
}

// The firmware watchdog. UEFI's boot manager arms five minutes before it
// starts a boot option (UEFI 2.10 section 3.1.2); khoboot re-arms it with
// a bound of its own before each step that may take long, so that a hang
// anywhere resets the machine into the attempt-failed path
// (loader/boot_attempt.h) instead of leaving it dead. Codes up to 0xffff
// belong to the firmware.
constexpr uint64_t kWatchdogSeconds = 300;
constexpr uint64_t kWatchdogCode = 0x4b484f;  // "KHO"

void arm_watchdog(uint64_t seconds, const char* step) {
    EFI_STATUS es = g_bs->SetWatchdogTimer(seconds, kWatchdogCode, 0, nullptr);
    if (EFI_ERROR(es)) logf("warn watchdog not armed for %s: status 0x%llx", step, (unsigned long long)es);
    else logf("watchdog seconds=%llu step=%s", (unsigned long long)seconds, step);
}

// The end of every boot that does not hang: what it did goes in
// KhoBootStatus, and a state from the descriptor variable is consumed with
// its manifest and the attempt record, so that it is never tried twice
// (the next boot finds no state and boots as the entry says).
void finish_boot(kho::BootOutcome outcome) {
    g_status.outcome = outcome;
    g_status.entry = g_entry.id[0] ? g_entry.id : nullptr;
    g_status.entry_to_jump_us = clock_us(rdtsc());
    static char text[kho::abi::boot_record::kStatusMaxBytes];
    size_t len = 0;
    Status s = kho::format_boot_status(g_status, text, sizeof(text), &len);
    if (s) s = write_variable(KhoVariable::Status, text, len);
    if (!s) logf("warn KhoBootStatus not written: %s", s.message());
    if (g_kho.from_variable) {
        s = delete_variable(KhoVariable::Descriptor);
        if (!s) logf("warn descriptor not consumed: %s", s.message());
        else logf("descriptor consumed");
    }
    // The manifest goes with its descriptor; one without a descriptor is a
    // producer's leftover that must not vouch for a later state.
    if (g_kho.manifest_variable) {
        s = delete_variable(KhoVariable::Manifest);
        if (!s) logf("warn manifest not consumed: %s", s.message());
        else logf("manifest consumed%s", g_kho.from_variable ? "" : " stale=1");
    }
    // Last: until the descriptor is gone, the record must stay.
    if (g_attempt_recorded) {
        s = delete_variable(KhoVariable::Attempt);
        if (!s) logf("warn attempt record not cleared: %s", s.message());
    }
}

[[noreturn]] void halt(const char* reason) {
    logf("halt reason=%s", reason);
    finish_boot(kho::BootOutcome::Halt);
    // The boot manager's 5-minute watchdog would reset the machine; a halt
    // keeps RAM (and so the KHO state) as it is for inspection.
    g_bs->SetWatchdogTimer(0, 0, 0, nullptr);
    for (;;) __asm__ volatile("hlt");
}

class WarningLog : public kho::ConfigWarnings {
public:
    void warn(const char* file, unsigned line, const char* message) override {
        logf("warn %s:%u: %s", file, line, message);
    }
};
WarningLog g_warnings;

// --- KHO: validate the state and protect it -------------------------------
size_t g_conflicts_shown;  // entries of g_conflicts the last plan filled

// Console output may allocate: between the map snapshot and the last
// allocation made from it, lines go to COM1 only and the consoles later.
struct ConsoleHold {
    ConsoleHold() { log_hold_console(true); }
    ~ConsoleHold() { log_hold_console(false); }
};

// The root FDT as the descriptor names it: still the same page (CRC), a
// state khoboot reads, of the kind the descriptor says.
Status open_state(const kho::HandoverDescriptor& d) {
    if (d.flags & kho::abi::descriptor::kFlagFdtCrc) {
        const uint8_t* page = g_sets->mem.view(d.fdt_addr, kho::abi::kRootFdtSize);
        if (!page)
            return Status::error(Err::Stale, "FDT page 0x%llx is not RAM",
                                 (unsigned long long)d.fdt_addr);
        uint32_t crc = kho::crc32(page, kho::abi::kRootFdtSize);
        if (crc != d.fdt_crc32)
            return Status::error(Err::Stale, "FDT page 0x%llx crc32 0x%08x, descriptor says 0x%08x",
                                 (unsigned long long)d.fdt_addr, crc, d.fdt_crc32);
    }
    KHO_TRY(kho::read_kho_fdt(g_sets->mem, d.fdt_addr, &g_state));
    g_kho.multikernel = g_state.version == kho::abi::KhoVersion::Multikernel1;
    if (g_kho.from_variable &&
        ((d.flags & kho::abi::descriptor::kFlagMultikernel) != 0) != g_kho.multikernel)
        return Status::error(Err::BadDescriptor, "descriptor %s multikernel, the FDT is %s",
                             g_kho.multikernel ? "does not say" : "says", g_state.compatible);
    // A normal state handed over with scratch 0/0 would be read as
    // multikernel by kernels carrying those patches (kho-abi.md 7.6).
    if (!g_kho.multikernel && d.scratch_count == 0)
        return Status::error(Err::BadProperty, "%s state without scratch regions", g_state.compatible);
    g_sets->scratch.clear();
    for (size_t i = 0; i < d.scratch_count; i++)
        KHO_TRY(g_sets->scratch.add(d.scratch[i].addr, d.scratch[i].addr + d.scratch[i].size));
    g_sets->scratch.normalize();
    return Status::ok();
}

kho::ProtectOptions protect_options(const kho::HandoverDescriptor& d) {
    // A manifest in RAM is kept like the state it vouches for: the next
    // boot of a chain, or a debugger after a halt, may need it again.
    kho::ProtectOptions options;
    if (d.flags & kho::abi::descriptor::kFlagManifest) {
        options.manifest_addr = d.manifest_addr;
        options.manifest_size = d.manifest_size;
    }
    return options;
}

kho::PageSet fresh_visited() {
    memset(g_visited, 0, sizeof(g_visited));
    return kho::PageSet(g_visited, kVisitedSlots);
}

// Pass 1, from the arena: the state streamed through the planner, whose
// storage grows with the firmware map only. On a refusal the state's
// coarse extent is what a cold boot keeps off (place_cold()).
Status plan_protection(const MemoryMapSnapshot& map, const kho::ProtectOptions& options,
                       kho::MemoryPlan& plan, uint64_t* ranges_seen) {
    kho::ProtectionStorage storage{g_free_regions, g_hulls, count_of(g_free_regions), g_outside,
                                   count_of(g_outside)};
    kho::ProtectionPlanner planner(map.view, g_sets->scratch, storage);
    KHO_TRY(planner.begin());
    kho::PageSet visited = fresh_visited();
    Status s = kho::decode_state(g_sets->mem, g_state, options, visited, planner, nullptr);
    if (s) s = kho::add_state_blobs(planner, g_state, options);
    if (s) s = planner.finish(g_work, count_of(g_work), plan);
    Status e = planner.extent(g_sets->protect);
    *ranges_seen = planner.ranges_seen();
    if (!s) return s;
    KHO_TRY(e);
    g_conflicts_shown = plan.conflict_count < plan.conflict_capacity ? plan.conflict_count
                                                                     : plan.conflict_capacity;
    return kho::plan_verdict(plan);
}

// One AllocatePages(AllocateAddress) per planned piece: per free region
// of the map, not per preserved range. The pieces are listed (up to a
// bound) for checks that compare them with what the next kernel reserves.
Status allocate_plan(const RangeSet& allocate) {
    bool list = allocate.size() <= kReserveLinesMax;
    if (!list)
        logf("reserve range-lines suppressed ranges=%zu max=%zu", allocate.size(), kReserveLinesMax);
    for (const Range& r : allocate) {
        Status s = allocate_at(r.start, r.end, efi::kLoaderData);
        if (!s) {
            MemoryMapSnapshot now;
            const char* owner = "unknown";
            if (get_memory_map(g_map_buf, sizeof(g_map_buf), &now)) owner = owner_of(now.view, r.start, r.end);
            return Status::error(Err::Conflict, "0x%llx-0x%llx owner=%s", (unsigned long long)r.start,
                                 (unsigned long long)r.end, owner);
        }
        if (list) logf_serial("reserve range 0x%llx-0x%llx", (unsigned long long)r.start, (unsigned long long)r.end);
    }
    return Status::ok();
}

// Pass 2, once the state is protected: the exact set, in pool memory as
// large as pass 1 counted, with the checks across ranges (pages preserved
// twice, blobs on map pages). A failure here refuses a state that stays
// protected, which is only ever safer.
Status collect_exact(const kho::ProtectOptions& options, uint64_t ranges_seen, kho::ProtectStats* stats) {
    const size_t capacity = size_t(ranges_seen) + kho::KhoState::kMaxSubnodes + 8;
    void* storage = nullptr;
    KHO_TRY(allocate_pool(capacity * sizeof(Range), &storage));
    g_sets->protect = RangeSet(static_cast<Range*>(storage), capacity);
    kho::PageSet visited = fresh_visited();
    kho::RangeSetSink sink(g_sets->protect, g_sets->protect);
    return kho::collect_protected(g_sets->mem, g_state, options, visited, sink, g_sets->protect, stats);
}

Status protect_state(const kho::HandoverDescriptor& d) {
    kho::ProtectOptions options = protect_options(d);
    uint64_t ranges_seen = 0;
    {
        ConsoleHold hold;
        MemoryMapSnapshot map;
        KHO_TRY(get_memory_map(g_map_buf, sizeof(g_map_buf), &map));
        KHO_TRY(g_sets->mem.load(map.view));
        KHO_TRY(open_state(d));
        if (d.flags & kho::abi::descriptor::kFlagManifest)
            KHO_TRY(kho::check_ram_manifest_range(d.manifest_addr, d.manifest_size));
        kho::MemoryPlan plan{&g_sets->allocate, &g_sets->scratch_free, &g_sets->overlaps, g_conflicts,
                             sizeof(g_conflicts) / sizeof(g_conflicts[0])};
        KHO_TRY(plan_protection(map, options, plan, &ranges_seen));
        KHO_TRY(allocate_plan(g_sets->allocate));
    }
    kho::ProtectStats stats;
    KHO_TRY(collect_exact(options, ranges_seen, &stats));
    g_kho.metadata_bytes = stats.metadata_bytes;
    logf("kho found compatible=%s fdt=0x%llx blocks=%llu metadata=%llu subnodes=%zu ranges=%zu "
         "bytes=%llu scratch=%zu",
         g_state.compatible, (unsigned long long)d.fdt_addr, (unsigned long long)stats.blocks,
         (unsigned long long)stats.metadata_pages, g_state.subnode_count, g_sets->protect.size(),
         (unsigned long long)g_sets->protect.total_bytes(), (size_t)d.scratch_count);
    logf("reserve ok ranges=%zu bytes=%llu preserved=%llu", g_sets->allocate.size(),
         (unsigned long long)g_sets->allocate.total_bytes(),
         (unsigned long long)g_sets->protect.total_bytes());
    return Status::ok();
}

void try_protect(const kho::HandoverDescriptor& d, uint64_t* phase) {
    g_conflicts_shown = 0;
    Status s = protect_state(d);
    if (!s) {
        log_error(s);
        for (size_t i = 1; i < g_conflicts_shown; i++)
            logf("conflict 0x%llx-0x%llx owner=%s", (unsigned long long)g_conflicts[i].range.start,
                 (unsigned long long)g_conflicts[i].range.end, kho::conflict_owner_name(g_conflicts[i]));
        // What a cold boot keeps off (place()); queries need it normalized.
        g_sets->protect.normalize();
    }
    g_kho.usable = s.is_ok();
    if (g_kho.usable && (d.flags & kho::abi::descriptor::kFlagManifest)) {
        g_kho.manifest_in_ram = true;
        g_kho.manifest = g_sets->mem.view(d.manifest_addr, d.manifest_size);
        g_kho.manifest_len = d.manifest_size;
    }
    *phase = mark_phase("kho", *phase);
}

// kho-verify: the state's bytes against its producer's manifest, after the
// entry said how much to check and before anything is placed. A mismatch
// makes the state unusable; boot() then applies kho-on-error.
void verify(uint64_t* phase) {
    // kho=off boots cold whatever the state holds: nothing to vouch for.
    if (!g_kho.usable || g_entry.kho == kho::KhoMode::Off) return;
    // Off does not read the manifest, so a manifest it cannot read is no
    // reason to refuse the state; any other level needs it.
    Status unreadable = Status::ok();
    if (g_kho.manifest_in_ram && !g_kho.manifest)
        // Protection succeeded, so the range is RAM; a view can only fail
        // if it spans two map entries.
        unreadable = Status::error(Err::Integrity, "manifest 0x%llx+0x%llx is not one RAM range",
                                   (unsigned long long)g_desc.manifest_addr,
                                   (unsigned long long)g_desc.manifest_size);
    else if (g_kho.manifest_unreadable)
        unreadable = Status::error(Err::Integrity, "%s", g_manifest_error);
    if (!unreadable && g_entry.kho_verify != kho::KhoVerify::Off) {
        log_error(unreadable);
        g_kho.usable = false;
        *phase = mark_phase("verify", *phase);
        return;
    }
    if (g_kho.manifest)
        logf("manifest source=%s bytes=%zu", g_kho.manifest_in_ram ? "ram" : "variable",
             g_kho.manifest_len);
    // kho-verify=full reads the whole state once per entry kind: 0.5 s/GiB
    // on the host, 2.2 s/GiB under TCG (README); 10 s/GiB on top of the
    // usual bound leaves room for slow machines, and a hang still resets.
    const uint64_t state_gib = ((g_sets->protect.total_bytes() + g_kho.metadata_bytes) >> 30) + 1;
    arm_watchdog(kWatchdogSeconds + 10 * state_gib, "verify");
    uint64_t t0 = rdtsc();
    kho::StateVerifyResult r;
    kho::ManifestBounds bounds{&g_sets->protect, g_kho.metadata_bytes};
    Status s = kho::verify_state(g_sets->mem, g_entry.kho_verify, g_kho.manifest, g_kho.manifest_len,
                                 g_desc.fdt_addr, bounds, &r);
    uint64_t us = clock_us(rdtsc()) - clock_us(t0);
    arm_watchdog(kWatchdogSeconds, "boot");
    if (!s) {
        log_error(s);
        g_kho.usable = false;
    } else {
        logf("verify level=%s entries=%llu bytes=%llu us=%llu", kho::verify_level_name(r.level),
             (unsigned long long)r.stats.entries, (unsigned long long)r.stats.bytes,
             (unsigned long long)us);
    }
    *phase = mark_phase("verify", *phase);
}

// --- configuration -----------------------------------------------------------

// loader.conf's timeout: list the entries and wait for a digit. Polls the
// keyboard with Stall() rather than creating timer events (no pool
// allocation of the loader's own).
size_t menu(const char* const* ids, size_t count, size_t def) {
    for (size_t i = 0; i < count && i < 9; i++)
        logf("menu %zu %s%s", i + 1, ids[i], i == def ? " (default)" : "");
    SIMPLE_INPUT_INTERFACE* in = g_st->ConIn;
    if (!in) return def;
    // Armed while the menu waits, as systemd-boot leaves it.
    arm_watchdog(g_conf.timeout_seconds + kWatchdogSeconds, "menu");
    for (uint64_t ms = 0; ms < uint64_t(g_conf.timeout_seconds) * 1000; ms += 10) {
        EFI_INPUT_KEY key;
        if (in->ReadKeyStroke(in, &key) == EFI_SUCCESS) {
            size_t chosen;
            if (kho::menu_choice(key.UnicodeChar, count, &chosen)) {
                logf("menu chose %s", ids[chosen]);
                return chosen;
            }
            break;
        }
        g_bs->Stall(10000);
    }
    return def;
}

Status read_config() {
    KHO_TRY(esp_open_root());
    EFI_GUID li_guid = LOADED_IMAGE_PROTOCOL;
    EFI_LOADED_IMAGE* li = nullptr;
    g_bs->HandleProtocol(g_image, &li_guid, reinterpret_cast<void**>(&li));
    bool text = li && kho::load_options_to_ascii(static_cast<const uint16_t*>(li->LoadOptions),
                                                  li->LoadOptionsSize, g_load_text,
                                                  sizeof(g_load_text));
    if (!text) {
        logf("warn load-options: not text, ignored");
        g_load_text[0] = '\0';
    }
    KHO_TRY(kho::parse_load_options(g_load_text, strlen(g_load_text), &g_load_options));

    size_t len = 0;
    memset(&g_conf, 0, sizeof(g_conf));
    uint64_t size;
    if (esp_file_size("/loader/loader.conf", &size)) {
        KHO_TRY(esp_read_small("/loader/loader.conf", g_text, sizeof(g_text), &len));
        KHO_TRY(kho::parse_loader_conf("/loader/loader.conf", g_text, len, &g_conf, &g_warnings));
    }
    size_t count = 0;
    KHO_TRY(esp_list_conf("/loader/entries", g_ids, kMaxEntries, &count));
    const char* ids[kMaxEntries];
    for (size_t i = 0; i < count; i++) ids[i] = g_ids[i];
    size_t index = 0;
    KHO_TRY(kho::select_entry(g_conf, ids, count, g_load_options.entry_id, &index));
    if (g_conf.timeout_seconds && !g_load_options.entry_id[0]) index = menu(ids, count, index);

    char path[128];
    kho::format(path, sizeof(path), "/loader/entries/%s.conf", ids[index]);
    KHO_TRY(esp_read_small(path, g_text, sizeof(g_text), &len));
    kho::init_boot_entry(&g_entry, ids[index]);
    KHO_TRY(kho::parse_boot_entry(path, g_text, len, &g_entry, &g_warnings));
    KHO_TRY(kho::apply_load_options(g_load_options, &g_entry, &g_warnings));
    logf("entry id=%s entries=%zu kho=%s kho-on-error=%s kho-verify=%s timeout=%u", g_entry.id, count,
         kho::kho_mode_name(g_entry.kho), kho::kho_on_error_name(g_entry.kho_on_error),
         kho::kho_verify_name(g_entry.kho_verify), g_conf.timeout_seconds);
    return Status::ok();
}

// --- kernel, initrd, boot data -------------------------------------------------
// Storage whose size follows the firmware's memory map: the map itself,
// the range sets placement derives from it, and the e820 table built from
// the final map. The arena covers ordinary maps. A protected state of
// thousands of ranges splits free memory into as many descriptors; the
// state being protected by then, pool memory cannot land on it, so the
// buffers come from the pool, sized from the firmware's own count.
struct MapStorage {
    uint8_t* map;
    size_t map_bytes;
    Range* fw_ram;
    Range* free_mem;
    size_t ranges;  // capacity of each of the two sets above
    Range* data_space;
    size_t data_ranges;  // free RAM minus scratch or a refused state's extent
    Range* work;
    size_t work_ranges;
    x86::E820Entry* e820;
    size_t e820_capacity;
};

// `may_use_pool`: false while a refused state's ranges are still to be kept
// clear (the pool could land on them); the arena must do then.
Status map_storage(bool may_use_pool, MapStorage* out) {
    size_t count = 0, dsize = 0;
    KHO_TRY(memory_map_size(&count, &dsize));
    // Room for the splits our own allocations cause before the final map.
    const size_t want = 2 * count + 2 * kMapSlack;
    *out = MapStorage{g_map_buf, sizeof(g_map_buf), g_fw_ram, g_free, count_of(g_free), g_data_space,
                      count_of(g_data_space), g_work, count_of(g_work), g_e820,
                      sizeof(g_e820) / sizeof(g_e820[0])};
    const size_t want_data = want + g_sets->protect.size() + g_sets->allocate.size();
    if (want * dsize <= out->map_bytes && want <= out->ranges && 2 * want <= out->work_ranges &&
        want <= out->e820_capacity && want_data <= out->data_ranges)
        return Status::ok();
    if (!may_use_pool)
        return Status::error(Err::Capacity, "memory map of %zu descriptors exceeds the arena",
                             count);
    void* p = nullptr;
    const size_t bytes = want * dsize + (4 * want + want_data) * sizeof(Range) +
                         want * sizeof(x86::E820Entry);
    KHO_TRY(allocate_pool(bytes, &p));
    auto* r = reinterpret_cast<Range*>(static_cast<uint8_t*>(p) + want * dsize);
    Range* data = r + 4 * want;
    *out = MapStorage{static_cast<uint8_t*>(p), want * dsize, r, r + want, want, data, want_data,
                      r + 2 * want, 2 * want, reinterpret_cast<x86::E820Entry*>(data + want_data), want};
    logf("storage pool descriptors=%zu bytes=%zu", count, bytes);
    return Status::ok();
}

struct Loaded {
    kho::BzImage image;
    uint64_t kernel = 0;
    uint64_t initrd = 0, initrd_size = 0, initrd_alloc = 0;
    uint64_t boot_data = 0;
    kho::BootDataLayout layout{};
    size_t scratch_count = 0;
    MapStorage storage{};
};

uint64_t page_up(uint64_t v) { return (v + 4095) & ~4095ull; }

Status read_kernel_header(kho::BzImage* image, uint64_t* file_size) {
    KHO_TRY(esp_file_size(g_entry.linux_path, file_size));
    uint64_t n = *file_size < sizeof(g_kernel_prefix) ? *file_size : sizeof(g_kernel_prefix);
    KHO_TRY(esp_read(g_entry.linux_path, 0, g_kernel_prefix, n));
    Status s = kho::parse_bzimage(g_kernel_prefix, n, *file_size, image);
    if (!s) return Status::error(Err::BadImage, "%s: %s", g_entry.linux_path, s.message());
    return Status::ok();
}

Status build_cmdline(bool handover, const kho::BzImage& image, kho::CommandLine& cl) {
    KHO_TRY(cl.set(g_entry.options));
    if (handover) {
        size_t n = 0;
        KHO_TRY(kho::read_reserve_mem_regions(g_sets->mem, g_state, g_memblock_fdt, sizeof(g_memblock_fdt),
                                              g_regions, sizeof(g_regions) / sizeof(g_regions[0]),
                                              &n));
        kho::KhoCmdlineEdits edits;
        KHO_TRY(kho::add_kho_parameters(cl, g_regions, n, &edits));
        if (edits.kho_disabled)
            logf("warn options turn kho off: the next kernel will ignore the handed-over state");
    }
    if (cl.length() > image.cmdline_max)
        return Status::error(Err::BadEntry, "command line is %zu bytes, the kernel takes %u",
                             cl.length(), image.cmdline_max);
    return Status::ok();
}

// Where the kernel and initrd (image space) and the boot data (data space)
// may go. A handover: free scratch for the images; for the boot data free
// RAM outside scratch and the gaps inside the protection hulls, which are
// already ours (protection_plan.h: a fragmented state's hulls can cover
// most RAM outside scratch). `avoid_state` (cold boots only): off every
// range a refused state claims, as far as it was decoded.
Status placement_spaces(bool handover, bool avoid_state, const RangeSet& free_mem, MapStorage& st,
                        RangeSet& scratch_free, RangeSet& data_space, const RangeSet** image_space) {
    *image_space = &free_mem;
    if (handover && g_kho.multikernel) {
        // multikernel-v1 has no scratch: free RAM, which no longer
        // includes the protected ranges (they are LoaderData now).
        KHO_TRY(data_space.add_all(free_mem));
    } else if (handover) {
        KHO_TRY(g_sets->scratch.intersect(free_mem, scratch_free));
        *image_space = &scratch_free;
        KHO_TRY(g_sets->allocate.subtract(g_sets->protect, data_space));
        RangeSet outside(st.work, st.work_ranges);
        KHO_TRY(free_mem.subtract(g_sets->scratch, outside));
        KHO_TRY(data_space.add_all(outside));
    } else if (avoid_state) {
        KHO_TRY(free_mem.subtract(g_sets->protect, data_space));
        *image_space = &data_space;
    } else {
        KHO_TRY(data_space.add_all(free_mem));
    }
    data_space.normalize();
    return Status::ok();
}

// AllocatePages for the parts of `r` that are not ours already (inside a
// protection hull); false and nothing kept if any part fails.
bool allocate_unless_ours(const Range& r, uint32_t type) {
    Range one[1], parts_buf[8];
    RangeSet whole(one, 1), parts(parts_buf, 8);
    if (!whole.add(r) || !whole.subtract(g_sets->allocate, parts)) return false;
    for (size_t i = 0; i < parts.size(); i++) {
        if (allocate_at(parts[i].start, parts[i].end, type)) continue;
        for (size_t j = 0; j < i; j++) free_at(parts[j].start, parts[j].end);
        return false;
    }
    return true;
}

// Allocates a placement: all three or none.
Status allocate_placement(const kho::Placement& p, uint64_t kernel_size, uint64_t initrd_size,
                          uint64_t boot_data_size) {
    Status s = allocate_at(p.kernel, p.kernel + kernel_size, efi::kLoaderCode);
    if (!s) return s;
    if (initrd_size) {
        s = allocate_at(p.initrd, p.initrd + initrd_size, efi::kLoaderData);
        if (!s) {
            free_at(p.kernel, p.kernel + kernel_size);
            return s;
        }
    }
    if (allocate_unless_ours(Range{p.boot_data, p.boot_data + boot_data_size}, efi::kLoaderData))
        return Status::ok();
    free_at(p.kernel, p.kernel + kernel_size);
    if (initrd_size) free_at(p.initrd, p.initrd + initrd_size);
    return Status::error(Err::Conflict, "boot data 0x%llx+0x%llx was taken", (unsigned long long)p.boot_data,
                         (unsigned long long)boot_data_size);
}

// Chooses addresses (in scratch for a handover) and allocates them. A
// few tries: the firmware's own pool growth between the map snapshot and
// AllocatePages() can take a chosen page.
Status place(bool handover, const kho::BzImage& image, uint64_t initrd_total, size_t cmdline_len,
             Loaded* out, bool avoid_state = false) {
    Status last = Status::ok();
    MapStorage& st = out->storage;
    KHO_TRY(map_storage(!avoid_state, &st));
    for (int attempt = 0; attempt < 3; attempt++) {
        MemoryMapSnapshot map;
        KHO_TRY(get_memory_map(st.map, st.map_bytes, &map));
        RangeSet fw_ram(st.fw_ram, st.ranges), free_mem(st.free_mem, st.ranges);
        KHO_TRY(kho::firmware_ram(map.view, fw_ram, free_mem));
        RangeSet data_space(st.data_space, st.data_ranges);
        const RangeSet* image_space = nullptr;
        KHO_TRY(placement_spaces(handover, avoid_state, free_mem, st, g_sets->scratch_free, data_space,
                                 &image_space));
        out->scratch_count = handover && !g_kho.multikernel ? g_desc.scratch_count : 0;
        // Room for the final map to double: file reads, variable writes and
        // the console all allocate before ExitBootServices().
        out->layout = kho::layout_boot_data(cmdline_len, out->scratch_count, 2 * map.view.count + kMapSlack,
                                            map.view.stride);
        kho::PlacementRequest q;
        KHO_TRY(kho::make_placement_request(image, initrd_total, out->layout.size, &q));
        kho::Placement p;
        KHO_TRY(kho::place_boot_images(*image_space, data_space, q, handover ? "scratch" : "RAM", &p));
        last = allocate_placement(p, image.init_size, initrd_total, out->layout.size);
        if (!last) continue;
        out->kernel = p.kernel;
        out->initrd = p.initrd;
        out->initrd_alloc = initrd_total;
        out->boot_data = p.boot_data;
        return Status::ok();
    }
    return last;
}

// A cold boot: off the named-but-refused state if it fits there, else
// anywhere (the state was given up; the kernel must still boot).
Status place_cold(const kho::BzImage& image, uint64_t initrd_total, size_t cmdline_len, Loaded* out) {
    if (g_kho.found && g_sets->protect.size()) {
        Status s = place(false, image, initrd_total, cmdline_len, out, true);
        if (s) return s;
        logf("warn cold boot placed over the refused state: %s", s.message());
    }
    return place(false, image, initrd_total, cmdline_len, out);
}

Status load_files(const Loaded& l) {
    KHO_TRY(esp_read(g_entry.linux_path, l.image.setup_size, reinterpret_cast<void*>(l.kernel),
                     l.image.payload_size));
    uint64_t off = 0;
    for (size_t i = 0; i < g_entry.initrd_count; i++) {
        uint64_t size;
        KHO_TRY(esp_file_size(g_entry.initrd[i], &size));
        if (off + size > l.initrd_alloc)
            return Status::error(Err::Io, "%s grew while loading", g_entry.initrd[i]);
        KHO_TRY(esp_read(g_entry.initrd[i], 0, reinterpret_cast<void*>(l.initrd + off), size));
        // Zero padding between archives: the kernel's cpio reader skips
        // NULs between concatenated archives (init/initramfs.c).
        uint64_t next = page_up(off + size);
        memset(reinterpret_cast<void*>(l.initrd + off + size), 0, next - off - size);
        off = next;
    }
    return Status::ok();
}

void hex_bytes(const void* p, size_t n, char* out) {
    const char* digits = "0123456789abcdef";
    const uint8_t* b = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

// A KHO problem found while preparing the boot: the entry's policy
// decides between halting and booting without the handover.
void kho_failed(const Status& s, const char* reason) {
    log_error(s);
    if (kho::decide_kho_action(g_entry.kho, g_entry.kho_on_error, true, false) ==
        kho::KhoAction::Halt)
        halt(reason);
    logf("policy cold-boot found=1 usable=0");
}

// Kernel header, initrd sizes, command line and placement; on return the
// memory is allocated and `handover` says whether KHO survived.
void prepare(Loaded& l, bool& handover, kho::CommandLine& cl) {
    uint64_t file_size;
    Status s = read_kernel_header(&l.image, &file_size);
    if (!s) {
        log_error(s);
        halt("image");
    }
    uint64_t initrd_total = 0;
    for (size_t i = 0; i < g_entry.initrd_count; i++) {
        uint64_t size;
        s = esp_file_size(g_entry.initrd[i], &size);
        if (!s) {
            log_error(s);
            halt("initrd");
        }
        // Concatenated page-aligned; the size handed over ends at the last byte.
        l.initrd_size = initrd_total + size;
        initrd_total += page_up(size);
    }

    s = build_cmdline(handover, l.image, cl);
    if (!s && handover) {
        kho_failed(s, "kho-cmdline");
        handover = false;
        s = build_cmdline(false, l.image, cl);
    }
    if (!s) {
        log_error(s);
        halt("cmdline");
    }
    s = handover ? place(true, l.image, initrd_total, cl.length(), &l)
                 : place_cold(l.image, initrd_total, cl.length(), &l);
    if (!s && handover) {
        kho_failed(s, "kho-no-space");
        handover = false;
        s = build_cmdline(false, l.image, cl);
        if (s) s = place_cold(l.image, initrd_total, cl.length(), &l);
    }
    if (!s) {
        log_error(s);
        halt("placement");
    }
    bool in_scratch = handover && g_sets->scratch.contains(l.kernel, l.kernel + l.image.init_size);
    logf("kernel file=%s size=%llu protocol=%u.%02u init_size=0x%llx align=0x%llx load=0x%llx in=%s",
         g_entry.linux_path, (unsigned long long)file_size, l.image.protocol >> 8,
         l.image.protocol & 0xff, (unsigned long long)l.image.init_size,
         (unsigned long long)l.image.alignment, (unsigned long long)l.kernel,
         in_scratch ? "scratch" : "ram");
    logf("initrd count=%zu size=%llu addr=0x%llx", g_entry.initrd_count,
         (unsigned long long)l.initrd_size, (unsigned long long)l.initrd);
    logf("boot-data addr=0x%llx size=%llu", (unsigned long long)l.boot_data,
         (unsigned long long)l.layout.size);
}

// The GOP framebuffer into screen_info, so the kernel keeps a console on
// the screen (efifb/simpledrm). No GOP, or a Blt-only mode: serial only.
void describe_framebuffer(x86::BootParams* bp) {
    EFI_GUID gop_guid = EFI_GRAPHICS_OUTPUT_PROTOCOL_GUID;
    EFI_GRAPHICS_OUTPUT_PROTOCOL* gop = nullptr;
    if (EFI_ERROR(g_bs->LocateProtocol(&gop_guid, nullptr, reinterpret_cast<void**>(&gop))) || !gop ||
        !gop->Mode || !gop->Mode->Info)
        return;
    const EFI_GRAPHICS_OUTPUT_MODE_INFORMATION* mi = gop->Mode->Info;
    kho::Framebuffer fb{};
    fb.base = gop->Mode->FrameBufferBase;
    fb.size = gop->Mode->FrameBufferSize;
    fb.width = mi->HorizontalResolution;
    fb.height = mi->VerticalResolution;
    fb.pixels_per_scanline = mi->PixelsPerScanLine;
    switch (mi->PixelFormat) {
    case PixelRedGreenBlueReserved8BitPerColor: fb.format = kho::Framebuffer::Format::Rgbx8; break;
    case PixelBlueGreenRedReserved8BitPerColor: fb.format = kho::Framebuffer::Format::Bgrx8; break;
    case PixelBitMask:
        fb.format = kho::Framebuffer::Format::BitMask;
        fb.red_mask = mi->PixelInformation.RedMask;
        fb.green_mask = mi->PixelInformation.GreenMask;
        fb.blue_mask = mi->PixelInformation.BlueMask;
        fb.reserved_mask = mi->PixelInformation.ReservedMask;
        break;
    default:
        return;  // PixelBltOnly: no linear framebuffer to hand over
    }
    Status s = kho::set_screen_info(bp, fb);
    if (!s) logf("warn framebuffer not handed over: %s", s.message());
    else logf("framebuffer %ux%u base=0x%llx", fb.width, fb.height, (unsigned long long)fb.base);
}

// boot_params, the command line, the scratch table and the KHO node, in
// the boot-data block.
void write_boot_data(const Loaded& l, bool handover, const kho::CommandLine& cl,
                     x86::BootParams* bp, kho::SetupDataChain& chain) {
    uint8_t* block = reinterpret_cast<uint8_t*>(l.boot_data);
    memset(block, 0, l.layout.size);
    memcpy(block + l.layout.cmdline, cl.c_str(), cl.length() + 1);
    kho::BootParamsInputs in{};
    in.kernel_load = l.kernel;
    in.initrd_addr = l.initrd_size ? l.initrd : 0;
    in.initrd_size = l.initrd_size;
    in.cmdline_addr = l.boot_data + l.layout.cmdline;
    in.acpi_rsdp = acpi_rsdp();
    in.efi_system_table = reinterpret_cast<uintptr_t>(g_st);
    Status s = kho::init_boot_params(l.image, g_kernel_prefix, sizeof(g_kernel_prefix), in, bp);
    if (!s) {
        log_error(s);
        halt("boot-params");
    }
    describe_framebuffer(bp);
    logf("cmdline %s", cl.c_str());
    if (!handover) {
        logf("handover none");
        return;
    }
    auto* table = reinterpret_cast<kho::abi::KhoScratch*>(block + l.layout.scratch_table);
    for (size_t i = 0; i < l.scratch_count; i++) table[i] = g_desc.scratch[i];
    x86::KhoData kd = kho::make_kho_data(g_desc.fdt_addr, l.boot_data + l.layout.scratch_table,
                                         l.scratch_count, g_kho.multikernel);
    auto* node = reinterpret_cast<x86::SetupData*>(block + l.layout.kho_node);
    memcpy(node + 1, &kd, sizeof(kd));
    uint64_t node_phys = l.boot_data + l.layout.kho_node;
    chain.append(node, node_phys, x86::kSetupKexecKho, sizeof(kd));
    char hex[2 * sizeof(kd) + 1];
    hex_bytes(&kd, sizeof(kd), hex);
    logf("handover setup_data=0x%llx kho_data=%s", (unsigned long long)node_phys, hex);
}

[[noreturn]] void stop_after_exit() {
    for (;;) __asm__ volatile("cli; hlt");
}

// ExitBootServices(): a changed map key (the firmware allocated in
// between) means fetch the map again and retry; after a failed attempt
// nothing but GetMemoryMap() may be called (UEFI 2.10 section 7.4.6).
// e820 and efi_info are built from each map before the call, so once it
// succeeds nothing is left that can fail.
[[noreturn]] void exit_and_jump(const Loaded& l, x86::BootParams* bp, kho::SetupDataChain& chain,
                                uint64_t phase) {
    uint8_t* block = reinterpret_cast<uint8_t*>(l.boot_data);
    auto* ext_node = reinterpret_cast<x86::SetupData*>(block + l.layout.e820_ext);
    kho::E820Ext ext{ext_node, l.boot_data + l.layout.e820_ext, l.layout.e820_ext_capacity};
    const kho::SetupDataChain::Mark chain_before = chain.mark();
    MemoryMapSnapshot final_map;
    size_t e820_count = 0;
    int tries = 0;
    for (;; tries++) {
        Status s = get_memory_map(block + l.layout.efi_memmap, l.layout.memmap_capacity, &final_map);
        if (s) {
            chain.rewind(chain_before);  // a retry rebuilds the e820 node
            s = kho::set_memory_info(bp, final_map.view, l.boot_data + l.layout.efi_memmap,
                                     final_map.descriptor_version, reinterpret_cast<uintptr_t>(g_st),
                                     l.storage.e820, l.storage.e820_capacity, ext, chain, &e820_count);
        }
        if (!s || tries == 8) {
            if (tries) log_boot_services_gone();
            if (!s) log_error(s);
            else logf("error io ExitBootServices: map key kept changing");
            if (tries) stop_after_exit();
            halt("exit-boot-services");
        }
        EFI_STATUS es = g_bs->ExitBootServices(g_image, final_map.key);
        if (es == EFI_SUCCESS) break;
        if (es != EFI_INVALID_PARAMETER) {
            log_boot_services_gone();
            logf("error io ExitBootServices status 0x%llx", (unsigned long long)es);
            stop_after_exit();
        }
    }
    __asm__ volatile("cli");
    log_boot_services_gone();
    logf("exit ok tries=%d map=%zu e820=%zu setup_data=%zu", tries + 1, final_map.view.count,
         e820_count, chain.length());
    mark_phase("exit", phase);
    uint64_t entry = l.kernel + x86::kEntry64Offset;
    uint64_t bp_phys = l.boot_data + l.layout.boot_params;
    uint64_t now = rdtsc();
    logf("jump entry=0x%llx boot_params=0x%llx us=%llu tsc=%llu", (unsigned long long)entry,
         (unsigned long long)bp_phys, (unsigned long long)clock_us(now), (unsigned long long)now);
    khoboot_enter_linux64(entry, bp_phys);
}

[[noreturn]] void boot(uint64_t phase) {
    kho::KhoAction action = kho::decide_kho_action(g_entry.kho, g_entry.kho_on_error, g_kho.found,
                                                   g_kho.usable);
    logf("policy %s found=%u usable=%u", kho::kho_action_name(action), g_kho.found ? 1 : 0,
         g_kho.usable ? 1 : 0);
    if (action == kho::KhoAction::Halt) halt(g_kho.found ? "kho-unusable" : "kho-required-missing");
    bool handover = action == kho::KhoAction::Handover;

    Loaded l;
    kho::CommandLine cl(g_cmdline_buf, sizeof(g_cmdline_buf));
    prepare(l, handover, cl);
    phase = mark_phase("place", phase);

    Status s = load_files(l);
    if (!s) {
        log_error(s);
        halt("load");
    }
    phase = mark_phase("load", phase);

    auto* bp = reinterpret_cast<x86::BootParams*>(l.boot_data + l.layout.boot_params);
    kho::SetupDataChain chain(bp);
    write_boot_data(l, handover, cl, bp, chain);
    finish_boot(handover ? kho::BootOutcome::Handover : kho::BootOutcome::ColdBoot);
    logf("boot entry=%s mode=%s kernel=0x%llx boot_params=0x%llx", g_entry.id,
         handover ? "kho" : "cold", (unsigned long long)l.kernel,
         (unsigned long long)(l.boot_data + l.layout.boot_params));
    phase = mark_phase("boot-params", phase);
    exit_and_jump(l, bp, chain, phase);
}

// One try per state (loader/boot_attempt.h), decided before the
// descriptor is parsed: true when the state may be tried now. A state
// whose earlier try never reached its kernel is refused
// (kho-attempt-failed) and consumed at once, so that if this boot fails
// too, the next one finds no state at all.
bool begin_attempt(const void* descriptor, size_t descriptor_len, bool descriptor_found) {
    alignas(8) uint8_t record[64];
    size_t rlen = 0;
    bool rfound = false;
    Status s = read_variable(KhoVariable::Attempt, record, sizeof(record), &rlen, &rfound);
    if (!s) logf("warn attempt record unreadable: %s", s.message());
    kho::AttemptVerdict v = kho::assess_attempt(descriptor, descriptor_len, descriptor_found, record,
                                                rlen, rfound && s.is_ok());
    if (v == kho::AttemptVerdict::ForeignRecord || (rfound && !s)) {
        logf("warn attempt record of another state dropped");
        if (!(s = delete_variable(KhoVariable::Attempt))) logf("warn %s", s.message());
        v = descriptor_found ? kho::AttemptVerdict::Proceed : kho::AttemptVerdict::NoState;
    }
    if (v == kho::AttemptVerdict::Failed) {
        g_attempt_recorded = true;
        log_error(Status::error(Err::AttemptFailed,
                                "the last boot of this state never reached its kernel (hang, crash or "
                                "reset); state consumed, not tried again"));
        g_kho.from_variable = true;
        g_kho.manifest_variable = true;  // whatever manifest came with it goes too
        finish_boot(kho::BootOutcome::ColdBoot);  // consumes now; boot() writes the real outcome
        g_kho.from_variable = g_kho.manifest_variable = g_attempt_recorded = false;
        return false;
    }
    if (v != kho::AttemptVerdict::Proceed) return false;
    kho::abi::boot_record::Attempt a = kho::make_attempt_record(descriptor, descriptor_len);
    s = write_variable(KhoVariable::Attempt, &a, sizeof(a));
    if (s) {
        g_attempt_recorded = true;
        return true;
    }
    // No record, no second chance: consume the descriptor now and go on
    // with the copy in memory, so that a failure cannot repeat. (A static
    // state from the entry has nothing to consume: it is not tried.)
    if (!g_kho.from_variable) {
        logf("warn attempt not recorded (%s): static state not tried", s.message());
        return false;
    }
    logf("warn attempt not recorded (%s): descriptor consumed before use", s.message());
    if (!(s = delete_variable(KhoVariable::Descriptor))) logf("warn %s", s.message());
    return true;
}

}  // namespace

}  // namespace khoefi

extern "C" EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE* st) {
    using namespace khoefi;
    clock_start();
    g_image = image;
    g_st = st;
    g_bs = st->BootServices;
    log_init();
    clock_calibrate();
    // Where the firmware loaded us: symbols of khoboot.so are this base plus
    // their ELF address (gnu-efi links at 0), for gdb and for scenarios that
    // stop the machine at khoboot_enter_linux64.
    EFI_GUID li_guid = LOADED_IMAGE_PROTOCOL;
    EFI_LOADED_IMAGE* li = nullptr;
    if (EFI_ERROR(g_bs->HandleProtocol(image, &li_guid, reinterpret_cast<void**>(&li)))) li = nullptr;
    logf("start version=%s tsc=%llu tsc_khz=%llu clock=%s", KHOBOOT_VERSION,
         (unsigned long long)clock_entry_tsc(), (unsigned long long)clock_tsc_khz(), clock_source());
    if (li)
        logf("image base=0x%llx size=%llu", (unsigned long long)reinterpret_cast<uintptr_t>(li->ImageBase),
             (unsigned long long)li->ImageSize);
    uint64_t phase = clock_entry_tsc();
    Sets sets;
    g_sets = &sets;

    arm_watchdog(kWatchdogSeconds, "boot");
    // 1. The descriptor variable, and the state it names protected before
    //    anything else allocates; first the record of an earlier try.
    size_t len = 0;
    bool found = false;
    Status s = read_variable(KhoVariable::Descriptor, g_desc_raw, sizeof(g_desc_raw), &len, &found);
    if (found && !s) {
        g_kho.found = g_kho.from_variable = true;
        log_error(s);
        phase = mark_phase("kho", phase);
    } else if (begin_attempt(g_desc_raw, len, found)) {
        g_kho.found = g_kho.from_variable = true;
        s = kho::parse_handover_descriptor(g_desc_raw, len, &g_desc);
        if (!s) {
            log_error(s);
            phase = mark_phase("kho", phase);
        } else {
            logf("kho descriptor source=variable fdt=0x%llx scratch=%u flags=0x%x",
                 (unsigned long long)g_desc.fdt_addr, g_desc.scratch_count, g_desc.flags);
            try_protect(g_desc, &phase);
        }
    } else if (found) {
        g_kho.found = true;  // the failed try's state, consumed already
        phase = mark_phase("kho", phase);
    }
    // Read now, with the descriptor, so that a failure to read it is
    // reported next to it; checked after the entry says how (kho-verify).
    size_t mlen = 0;
    bool mfound = false;
    Status ms = read_variable(KhoVariable::Manifest, g_manifest_var, sizeof(g_manifest_var), &mlen, &mfound);
    g_kho.manifest_variable = mfound;
    if (mfound && g_kho.manifest_in_ram) {
        logf("warn KhoManifest variable ignored: the descriptor names a manifest in RAM");
    } else if (mfound && found && !ms) {
        g_kho.manifest_unreadable = true;
        kho::format(g_manifest_error, sizeof(g_manifest_error), "%s", ms.message());
    } else if (mfound && found) {
        g_kho.manifest = g_manifest_var;
        g_kho.manifest_len = mlen;
    }

    // 2. The boot entry.
    s = read_config();
    if (!s) {
        log_error(s);
        halt("config");
    }
    phase = mark_phase("config", phase);

    // 3. A static setup from the entry, when no descriptor was found.
    if (!g_kho.found && g_entry.kho_fdt && g_entry.kho != kho::KhoMode::Off) {
        g_kho.found = true;
        memset(&g_desc, 0, sizeof(g_desc));
        g_desc.fdt_addr = g_entry.kho_fdt;
        g_desc.fdt_size = kho::abi::kRootFdtSize;
        g_desc.scratch_count = static_cast<uint32_t>(g_entry.kho_scratch_count);
        for (size_t i = 0; i < g_entry.kho_scratch_count; i++) g_desc.scratch[i] = g_entry.kho_scratch[i];
        logf("kho descriptor source=entry fdt=0x%llx scratch=%u flags=0x0",
             (unsigned long long)g_desc.fdt_addr, g_desc.scratch_count);
        // The entry names it at every boot: a try that failed is skipped
        // once, so failed and plain boots alternate at worst.
        if (begin_attempt(&g_desc, sizeof(g_desc), true)) try_protect(g_desc, &phase);
        else phase = mark_phase("kho", phase);
    } else if (!g_kho.found) {
        logf("kho none");
    }

    // 4. kho-verify, before anything is placed or loaded.
    verify(&phase);
    boot(phase);
}
