// Steps 1 and 4 of a boot (boot_flow.h): the KHO state validated and
// protected before anything else allocates, then checked against its
// integrity manifest as the entry's kho-verify asks.
#include "boot_flow.h"

#include "crc32.h"
#include "protection_plan.h"
#include "state_verify.h"

namespace kho {

namespace {

constexpr uint64_t kWatchdogSeconds = 300;
// Per-range "reserve range" lines are listed up to this many (checks that
// compare them with what the next kernel reserves read them).
constexpr size_t kReserveLinesMax = 512;

// Keeps console output buffered while held: between the map snapshot and
// the last allocation made from it, lines go to the serial port only.
struct ConsoleHold {
    explicit ConsoleHold(Firmware& fw) : fw_(fw) { fw_.hold_console(true); }
    ~ConsoleHold() { fw_.hold_console(false); }
    Firmware& fw_;
};

const char* owner_of(const FirmwareMemoryMap& map, uint64_t start, uint64_t end) {
    for (size_t i = 0; i < map.count; i++) {
        const auto& d = map.at(i);
        uint64_t s = d.physical_start, e = s + d.number_of_pages * abi::efi::kPageSize;
        if (s < end && start < e && d.type != abi::efi::kConventionalMemory)
            return abi::efi::memory_type_name(d.type);
    }
    return "not-in-map";
}

}  // namespace

// The root FDT as the descriptor names it: still the same page (CRC), a
// state khoboot reads, of the kind the descriptor says.
Status BootFlow::open_state(const HandoverDescriptor& d) {
    FirmwareRam& mem = fw_.ram();
    if (d.flags & abi::descriptor::kFlagFdtCrc) {
        const uint8_t* page = mem.view(d.fdt_addr, abi::kRootFdtSize);
        if (!page) return Status::error(Err::Stale, "FDT page 0x%llx is not RAM", (unsigned long long)d.fdt_addr);
        uint32_t crc = crc32(page, abi::kRootFdtSize);
        if (crc != d.fdt_crc32)
            return Status::error(Err::Stale, "FDT page 0x%llx crc32 0x%08x, descriptor says 0x%08x",
                                 (unsigned long long)d.fdt_addr, crc, d.fdt_crc32);
    }
    KHO_TRY(read_kho_fdt(mem, d.fdt_addr, &c_.state));
    kho_.multikernel = c_.state.version == abi::KhoVersion::Multikernel1;
    if (kho_.from_variable && ((d.flags & abi::descriptor::kFlagMultikernel) != 0) != kho_.multikernel)
        return Status::error(Err::BadDescriptor, "descriptor %s multikernel, the FDT is %s",
                             kho_.multikernel ? "does not say" : "says", c_.state.compatible);
    // A normal state handed over with scratch 0/0 would be read as
    // multikernel by kernels carrying those patches (docs/kho-abi.md).
    if (!kho_.multikernel && d.scratch_count == 0)
        return Status::error(Err::BadProperty, "%s state without scratch regions", c_.state.compatible);
    scratch_.clear();
    for (size_t i = 0; i < d.scratch_count; i++)
        KHO_TRY(scratch_.add(d.scratch[i].addr, d.scratch[i].addr + d.scratch[i].size));
    scratch_.normalize();
    return Status::ok();
}

// A manifest in RAM is kept like the state it vouches for: the next boot
// of a chain, or a debugger after a halt, may need it again.
ProtectOptions BootFlow::protect_options(const HandoverDescriptor& d) const {
    ProtectOptions options;
    if (d.flags & abi::descriptor::kFlagManifest) {
        options.manifest_addr = d.manifest_addr;
        options.manifest_size = d.manifest_size;
    }
    return options;
}

PageSet BootFlow::fresh_visited() {
    __builtin_memset(c_.visited, 0, sizeof(c_.visited));
    return PageSet(c_.visited, limits::kVisitedPages);
}

// Pass 1, from the context: the state streamed through the planner, whose
// storage grows with the firmware map only. On a refusal the state's
// coarse extent is what a cold boot keeps off (place_cold()).
Status BootFlow::plan_protection(const MemoryMapSnapshot& map, const ProtectOptions& options,
                                 MemoryPlan& plan, uint64_t* ranges_seen) {
    ProtectionStorage storage{c_.free_regions, c_.hulls, BootContext::kMapDescriptors, c_.outside,
                              limits::kOutsideRanges};
    ProtectionPlanner planner(map.view, scratch_, storage);
    KHO_TRY(planner.begin());
    PageSet visited = fresh_visited();
    Status s = decode_state(fw_.ram(), c_.state, options, visited, planner, nullptr);
    if (s) s = add_state_blobs(planner, c_.state, options);
    if (s) s = planner.finish(c_.work, sizeof(c_.work) / sizeof(c_.work[0]), plan);
    Status e = planner.extent(protect_);
    *ranges_seen = planner.ranges_seen();
    if (!s) return s;
    KHO_TRY(e);
    conflicts_shown_ = plan.conflict_count < plan.conflict_capacity ? plan.conflict_count
                                                                    : plan.conflict_capacity;
    return plan_verdict(plan);
}

// One AllocatePages(AllocateAddress) per planned piece: per free region of
// the map, not per preserved range.
Status BootFlow::allocate_plan(const RangeSet& allocate) {
    bool list = allocate.size() <= kReserveLinesMax;
    if (!list) log("reserve range-lines suppressed ranges=%zu max=%zu", allocate.size(), kReserveLinesMax);
    for (const Range& r : allocate) {
        Status s = fw_.allocate_at(r.start, r.end, abi::efi::kLoaderData);
        if (!s) {
            MemoryMapSnapshot now;
            const char* owner = "unknown";
            if (fw_.memory_map(c_.map_buf, sizeof(c_.map_buf), &now)) owner = owner_of(now.view, r.start, r.end);
            return Status::error(Err::Conflict, "0x%llx-0x%llx owner=%s", (unsigned long long)r.start,
                                 (unsigned long long)r.end, owner);
        }
        if (list) log_serial("reserve range 0x%llx-0x%llx", (unsigned long long)r.start, (unsigned long long)r.end);
    }
    return Status::ok();
}

// Pass 2, once the state is protected: the exact set, in pool memory as
// large as pass 1 counted, with the checks across ranges (pages preserved
// twice, blobs on map pages). A failure here refuses a state that stays
// protected, which is only ever safer.
Status BootFlow::collect_exact(const ProtectOptions& options, uint64_t ranges_seen, ProtectStats* stats) {
    const size_t capacity = size_t(ranges_seen) + KhoState::kMaxSubnodes + 8;
    void* storage = nullptr;
    KHO_TRY(fw_.allocate_pool(capacity * sizeof(Range), &storage));
    protect_ = RangeSet(static_cast<Range*>(storage), capacity);
    PageSet visited = fresh_visited();
    RangeSetSink sink(protect_, protect_);
    return collect_protected(fw_.ram(), c_.state, options, visited, sink, protect_, stats);
}

Status BootFlow::protect_state(const HandoverDescriptor& d) {
    ProtectOptions options = protect_options(d);
    uint64_t ranges_seen = 0;
    {
        ConsoleHold hold(fw_);
        MemoryMapSnapshot map;
        KHO_TRY(fw_.memory_map(c_.map_buf, sizeof(c_.map_buf), &map));
        KHO_TRY(fw_.ram().load(map.view));
        KHO_TRY(open_state(d));
        if (d.flags & abi::descriptor::kFlagManifest)
            KHO_TRY(check_ram_manifest_range(d.manifest_addr, d.manifest_size));
        MemoryPlan plan{&allocate_, &scratch_free_, &overlaps_, c_.conflicts, BootContext::kConflicts};
        KHO_TRY(plan_protection(map, options, plan, &ranges_seen));
        KHO_TRY(allocate_plan(allocate_));
        kho_.protected_ = true;
    }
    ProtectStats stats;
    KHO_TRY(collect_exact(options, ranges_seen, &stats));
    kho_.metadata_bytes = stats.metadata_bytes;
    // RAM this firmware rewrote across the probe's warm reset: the state
    // there is not what its producer left (the refusal keeps it protected).
    if (probe_result_) KHO_TRY(probe_clobber_verdict(c_.probe_result, protect_));
    log("kho found compatible=%s fdt=0x%llx blocks=%llu metadata=%llu subnodes=%zu ranges=%zu "
        "bytes=%llu scratch=%zu",
        c_.state.compatible, (unsigned long long)d.fdt_addr, (unsigned long long)stats.blocks,
        (unsigned long long)stats.metadata_pages, c_.state.subnode_count, protect_.size(),
        (unsigned long long)protect_.total_bytes(), (size_t)d.scratch_count);
    log("reserve ok ranges=%zu bytes=%llu preserved=%llu", allocate_.size(),
        (unsigned long long)allocate_.total_bytes(), (unsigned long long)protect_.total_bytes());
    return Status::ok();
}

void BootFlow::try_protect(const HandoverDescriptor& d) {
    conflicts_shown_ = 0;
    Status s = protect_state(d);
    if (!s) {
        log_error(s);
        for (size_t i = 1; i < conflicts_shown_; i++)
            log("conflict 0x%llx-0x%llx owner=%s", (unsigned long long)c_.conflicts[i].range.start,
                (unsigned long long)c_.conflicts[i].range.end, conflict_owner_name(c_.conflicts[i]));
        // What a cold boot keeps off (place()); queries need it normalized.
        protect_.normalize();
    }
    kho_.usable = s.is_ok();
    if (kho_.usable && (d.flags & abi::descriptor::kFlagManifest)) {
        kho_.manifest_in_ram = true;
        kho_.manifest = fw_.ram().view(d.manifest_addr, d.manifest_size);
        kho_.manifest_len = d.manifest_size;
    }
    phase_ = mark_phase("kho", phase_);
}

// The unreadable-manifest rule: a manifest that exists but cannot be read
// fails any kho-verify level but off (off never reads it).
Status BootFlow::manifest_readable() const {
    if (kho_.manifest_in_ram && !kho_.manifest)
        // Protection succeeded, so the range is RAM; a view can only fail
        // if it spans two map entries.
        return Status::error(Err::Integrity, "manifest 0x%llx+0x%llx is not one RAM range",
                             (unsigned long long)c_.desc.manifest_addr,
                             (unsigned long long)c_.desc.manifest_size);
    if (kho_.manifest_unreadable) return Status::error(Err::Integrity, "%s", manifest_error_);
    return Status::ok();
}

// kho-verify: the state's bytes against its producer's manifest, after the
// entry said how much to check and before anything is placed. A mismatch
// makes the state unusable; the policy then applies kho-on-error.
void BootFlow::verify() {
    // kho=off boots cold whatever the state holds: nothing to vouch for.
    if (!kho_.usable || c_.entry.kho == KhoMode::Off) return;
    Status unreadable = manifest_readable();
    if (!unreadable && c_.entry.kho_verify != KhoVerify::Off) {
        log_error(unreadable);
        kho_.usable = false;
        phase_ = mark_phase("verify", phase_);
        return;
    }
    if (kho_.manifest)
        log("manifest source=%s bytes=%zu", kho_.manifest_in_ram ? "ram" : "variable", kho_.manifest_len);
    // kho-verify=full reads the whole state once per entry kind: 0.5 s/GiB
    // on the host, 2.2 s/GiB under TCG (README); 10 s/GiB on top of the
    // usual bound leaves room for slow machines, and a hang still resets.
    const uint64_t state_gib = ((protect_.total_bytes() + kho_.metadata_bytes) >> 30) + 1;
    arm_watchdog(kWatchdogSeconds + 10 * state_gib, "verify");
    uint64_t t0 = fw_.us_since_entry();
    StateVerifyResult r;
    ManifestBounds bounds{&protect_, kho_.metadata_bytes};
    Status s = verify_state(fw_.ram(), c_.entry.kho_verify, kho_.manifest, kho_.manifest_len,
                            c_.desc.fdt_addr, bounds, &r);
    uint64_t us = fw_.us_since_entry() - t0;
    arm_watchdog(kWatchdogSeconds, "boot");
    if (!s) {
        log_error(s);
        kho_.usable = false;
    } else {
        log("verify level=%s entries=%llu bytes=%llu us=%llu", verify_level_name(r.level),
            (unsigned long long)r.stats.entries, (unsigned long long)r.stats.bytes, (unsigned long long)us);
    }
    phase_ = mark_phase("verify", phase_);
}

}  // namespace kho
