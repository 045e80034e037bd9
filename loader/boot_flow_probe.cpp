// The RAM-retention probe in a boot (loader/ram_probe.h decides what is
// filled, compared and recorded; this file orders the firmware calls).
//
//   probe_check()        first thing in a boot, before anything allocates:
//                        KhoProbeArmed -> compare -> KhoProbeResult
//   read_probe_result()  the stored result, as known-clobbered ranges for
//                        the state's protection (boot_flow_state.cpp)
//   probe_arm_if_asked() after the entry is read: KhoProbeRequest or
//                        loader.conf's khoboot-probe -> fill, record, warm
//                        reset; a boot that cannot reset goes on as usual
#include "boot_flow.h"

namespace kho {

namespace {

namespace probe = abi::probe;

// Rounds of "snapshot the map, allocate its free memory": an allocation
// may make the firmware take pages for its own bookkeeping (EDK2 grows its
// descriptor pool from free memory), which the next round finds.
constexpr int kAllocateRounds = 4;
// Changed ranges listed one per line (serial only), then a count.
constexpr uint32_t kChangedLinesMax = 64;

struct ConsoleHold {
    explicit ConsoleHold(Firmware& fw) : fw_(fw) { fw_.hold_console(true); }
    ~ConsoleHold() { fw_.hold_console(false); }
    Firmware& fw_;
};

}  // namespace

// The check reads every page the arm filled, so it runs before the loader
// allocates anything: an allocation of its own would land on filled pages
// and pass for the firmware's doing. The record goes first, so that a
// check that hangs or crashes is not repeated at every boot.
void BootFlow::probe_check() {
    size_t len = 0;
    bool found = false;
    Status s = fw_.read_variable(KhoVariable::ProbeArmed, c_.probe_var, sizeof(c_.probe_var), &len, &found);
    if (!found) return;
    Status d = fw_.delete_variable(KhoVariable::ProbeArmed);
    if (!d) log("warn probe record not consumed: %s", d.message());
    ProbeArmed armed;
    if (s) s = parse_probe_armed(c_.probe_var, len, &armed);
    if (!s) {
        log("warn probe record unusable, no check: %s", s.message());
        return;
    }
    {
        // Console output may allocate: serial only until the pages are read.
        ConsoleHold hold(fw_);
        MemoryMapSnapshot map;
        s = fw_.memory_map(c_.map_buf, sizeof(c_.map_buf), &map);
        if (!s) {
            log("warn probe check impossible: %s", s.message());
            return;
        }
        log_serial("probe check ranges=%u bytes=%llu salt=0x%llx", armed.count,
                   (unsigned long long)armed.filled_bytes, (unsigned long long)armed.salt);
        probe_compare(armed, fw_.physical(), map.view, &c_.probe_result);
    }
    const ProbeResult& r = c_.probe_result;
    for (uint32_t i = 0; i < r.count && i < kChangedLinesMax; i++)
        log_serial("probe changed 0x%llx-0x%llx owner=%s", (unsigned long long)r.changes[i].start,
                   (unsigned long long)r.changes[i].end, probe_owner_name(r.changes[i].type));
    log("probe result filled=%llu ranges=%u changed=%llu changed-ranges=%u listed=%u",
        (unsigned long long)r.filled_bytes, r.filled_ranges, (unsigned long long)r.changed_bytes, r.total,
        r.count);
    probe_result_ = true;
    s = encode_probe_result(r, c_.probe_var, sizeof(c_.probe_var), &len);
    if (s) s = fw_.write_variable(KhoVariable::ProbeResult, c_.probe_var, len);
    if (!s) log("warn probe result not stored: %s", s.message());
    phase_ = mark_phase("probe", phase_);
}

// The result of the last probe, unless this boot just made one; and
// whether the OS asked for a new probe.
void BootFlow::read_probe_result() {
    alignas(8) uint8_t request[sizeof(probe::Request) + 8];
    size_t len = 0;
    bool found = false;
    Status s = fw_.read_variable(KhoVariable::ProbeRequest, request, sizeof(request), &len, &found);
    probe_requested_ = found;  // whatever its bytes: a request it is (consumed when armed)
    if (!s) log("warn probe request unreadable: %s", s.message());
    if (probe_result_) return;
    s = fw_.read_variable(KhoVariable::ProbeResult, c_.probe_var, sizeof(c_.probe_var), &len, &found);
    if (!found) return;
    if (s) s = parse_probe_result(c_.probe_var, len, &c_.probe_result);
    if (!s) {
        log("warn probe result ignored: %s", s.message());
        return;
    }
    probe_result_ = true;
}

// Allocates what the map lists as free, round after round, into `filled`
// (each range the loader's EfiLoaderData now). The reserve is chosen once.
Status BootFlow::probe_allocate(RangeSet& filled) {
    MemoryMapSnapshot map;
    KHO_TRY(fw_.memory_map(c_.map_buf, sizeof(c_.map_buf), &map));
    const Range reserve = probe_reserve(map.view, kProbeReserveBytes);
    RangeSet plan(c_.work, sizeof(c_.work) / sizeof(c_.work[0]));
    for (int round = 0; round < kAllocateRounds; round++) {
        if (round) KHO_TRY(fw_.memory_map(c_.map_buf, sizeof(c_.map_buf), &map));
        KHO_TRY(probe_fill_plan(map.view, reserve, plan));
        size_t added = 0;
        for (const Range& r : plan) {
            if (filled.size() == filled.capacity()) break;
            if (!fw_.allocate_at(r.start, r.end, abi::efi::kLoaderData)) continue;  // taken meanwhile
            Status s = filled.add(r);
            if (!s) {
                fw_.free_at(r.start, r.end);
                break;
            }
            added++;
        }
        filled.normalize();
        if (!added) break;
    }
    return Status::ok();
}

Status BootFlow::probe_fill_and_record(RangeSet& filled, uint64_t salt) {
    MemoryMapSnapshot map;
    KHO_TRY(fw_.memory_map(c_.map_buf, sizeof(c_.map_buf), &map));
    KHO_TRY(fw_.ram().load(map.view));
    for (const Range& r : filled) {
        // Page by page: a view never spans two pieces of RAM.
        for (uint64_t a = r.start; a < r.end; a += abi::kPageSize) {
            uint8_t* p = fw_.ram().writable(a, abi::kPageSize);
            if (!p) return Status::error(Err::Io, "probe: page 0x%llx not writable", (unsigned long long)a);
            probe_fill(p, a, abi::kPageSize, salt);
        }
    }
    size_t len = 0;
    KHO_TRY(encode_probe_armed(filled, salt, c_.probe_var, sizeof(c_.probe_var), &len));
    return fw_.write_variable(KhoVariable::ProbeArmed, c_.probe_var, len);
}

void BootFlow::probe_release(const RangeSet& filled) {
    for (const Range& r : filled) fw_.free_at(r.start, r.end);
}

// Fill, record, reset. The request is consumed first: a probe that fails
// half way is not retried at every boot. A KHO state found this boot
// (protected or refused) rules the fill out: a refused state lies in what
// the map calls free memory, and a cold boot may still want it intact.
void BootFlow::probe_arm_if_asked() {
    ProbeArm a = decide_probe_arm(probe_requested_, c_.conf.probe, probe_result_, kho_.found);
    if (a == ProbeArm::No) return;
    if (a == ProbeArm::StateAtStake) {
        log("warn probe not armed: a KHO state is at stake this boot%s",
            probe_requested_ ? " (asked again next boot)" : "");
        return;
    }
    if (probe_requested_) {
        Status d = fw_.delete_variable(KhoVariable::ProbeRequest);
        if (!d) {
            log("warn probe not armed: request not consumed: %s", d.message());
            return;
        }
    }
    RangeSet filled(c_.probe_filled, probe::kMaxFilledRanges);
    Status s;
    {
        // From the first allocation to the reset, nothing but the serial
        // port: a firmware console may allocate.
        ConsoleHold hold(fw_);
        // The salt's low 12 bits are clear: the check's fast path
        // (probe_page_intact) steps through a page by adding.
        const uint64_t salt = (fw_.now() * probe::kPatternMul) & ~0xfffull;
        s = probe_allocate(filled);
        if (s) s = probe_fill_and_record(filled, salt);
        if (s) {
            log_serial("probe armed ranges=%zu bytes=%llu salt=0x%llx", filled.size(),
                       (unsigned long long)filled.total_bytes(), (unsigned long long)salt);
            for (size_t i = 0; i < filled.size() && i < kChangedLinesMax; i++)
                log_serial("probe filled 0x%llx-0x%llx", (unsigned long long)filled[i].start,
                           (unsigned long long)filled[i].end);
            log_serial("probe reset warm");
            s = fw_.reset_warm();
        }
    }
    // Only a reset that did not happen comes back here.
    log("warn probe not armed: %s", s.message());
    fw_.delete_variable(KhoVariable::ProbeArmed);
    probe_release(filled);
}

}  // namespace kho
