// The outline of a boot (boot_flow.h), the records it keeps
// (KhoBootAttempt, KhoBootStatus) and the policy that ends it.
#include "boot_flow.h"

#include <stdarg.h>

#include "format.h"
#include "handover_descriptor.h"
#include "variable_attributes.h"

namespace kho {

namespace {

// The firmware watchdog. UEFI's boot manager arms five minutes before it
// starts a boot option (UEFI 2.10 section 3.1.2); khoboot re-arms it with a
// bound of its own before each step that may take long, so that a hang
// anywhere resets the machine into the attempt-failed path
// (boot_attempt.h) instead of leaving it dead.
constexpr uint64_t kWatchdogSeconds = 300;

}  // namespace

const char* halt_reason_name(HaltReason r) {
    switch (r) {
    case HaltReason::KhoUnusable: return "kho-unusable";
    case HaltReason::KhoRequiredMissing: return "kho-required-missing";
    case HaltReason::KhoCmdline: return "kho-cmdline";
    case HaltReason::KhoNoSpace: return "kho-no-space";
    case HaltReason::Config: return "config";
    case HaltReason::Image: return "image";
    case HaltReason::Initrd: return "initrd";
    case HaltReason::Cmdline: return "cmdline";
    case HaltReason::Placement: return "placement";
    case HaltReason::Load: return "load";
    case HaltReason::BootParams: return "boot-params";
    case HaltReason::ImageUnverified: return "image-unverified";
    case HaltReason::ExitBootServices: return "exit-boot-services";
    }
    return "?";
}

BootFlow::BootFlow(Firmware& fw, BootContext& ctx, const BootFacts& facts, const BootProtocol& protocol)
    : fw_(fw), c_(ctx), facts_(facts), protocol_(protocol), warnings_(*this),
      protect_(ctx.protect, BootContext::kProtectRanges),
      allocate_(ctx.allocate, sizeof(ctx.allocate) / sizeof(ctx.allocate[0])),
      scratch_free_(ctx.scratch_free, sizeof(ctx.scratch_free) / sizeof(ctx.scratch_free[0])),
      overlaps_(ctx.overlaps, sizeof(ctx.overlaps) / sizeof(ctx.overlaps[0])),
      scratch_(ctx.scratch, BootContext::kMaxScratch),
      cmdline_(ctx.cmdline, sizeof(ctx.cmdline)) {}

void BootFlow::vlog(bool serial_only, const char* fmt, va_list ap) {
    char line[512];
    format_v(line, sizeof(line), fmt, ap);
    fw_.log_line(line, serial_only);
}

void BootFlow::log(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog(false, fmt, ap);
    va_end(ap);
}

void BootFlow::log_serial(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog(true, fmt, ap);
    va_end(ap);
}

void BootFlow::WarningLog::warn(const char* file, unsigned line, const char* message) {
    flow_.log("warn %s:%u: %s", file, line, message);
}

// The first error of a boot is what KhoBootStatus reports.
void BootFlow::log_error(const Status& s) {
    log("error %s %s", err_name(s.code()), s.message());
    if (status_.error_kind) return;
    format(first_kind_, sizeof(first_kind_), "%s", err_name(s.code()));
    format(first_message_, sizeof(first_message_), "%s", s.message());
    status_.error_kind = first_kind_;
    status_.message = first_message_;
}

uint64_t BootFlow::mark_phase(const char* name, uint64_t start) {
    uint64_t us = 0;
    uint64_t now = fw_.mark_phase(name, start, &us);
    if (status_.phase_count < BootStatus::kMaxPhases) status_.phases[status_.phase_count++] = {name, us};
    return now;
}

void BootFlow::arm_watchdog(uint64_t seconds, const char* step) {
    Status s = fw_.set_watchdog(seconds);
    if (!s) log("warn watchdog not armed for %s: %s", step, s.message());
    else log("watchdog seconds=%llu step=%s", (unsigned long long)seconds, step);
}

// The end of every boot that does not hang: what it did goes in
// KhoBootStatus, and a state from the descriptor variable is consumed with
// its manifest and the attempt record, so that it is never tried twice
// (the next boot finds no state and boots as the entry says).
void BootFlow::finish_boot(BootOutcome outcome) {
    status_.outcome = outcome;
    status_.entry = c_.entry.id[0] ? c_.entry.id : nullptr;
    status_.entry_to_jump_us = fw_.us_since_entry();
    export_loader_interface();
    size_t len = 0;
    Status s = format_boot_status(status_, c_.status_text, sizeof(c_.status_text), &len);
    if (s) s = fw_.write_variable(KhoVariable::Status, c_.status_text, len);
    if (!s) log("warn KhoBootStatus not written: %s", s.message());
    if (kho_.from_variable) {
        s = fw_.delete_variable(KhoVariable::Descriptor);
        if (!s) log("warn descriptor not consumed: %s", s.message());
        else log("descriptor consumed");
    }
    // The manifest goes with its descriptor; one without a descriptor is a
    // producer's leftover that must not vouch for a later state.
    if (kho_.manifest_variable) {
        s = fw_.delete_variable(KhoVariable::Manifest);
        if (!s) log("warn manifest not consumed: %s", s.message());
        else log("manifest consumed%s", kho_.from_variable ? "" : " stale=1");
    }
    // Last: until the descriptor is gone, the record must stay.
    if (attempt_recorded_) {
        s = fw_.delete_variable(KhoVariable::Attempt);
        if (!s) log("warn attempt record not cleared: %s", s.message());
    }
}

// The two ways a boot ends without a kernel, with the protocol line
// "<verb> reason=<why>" and KhoBootStatus written:
//  - halt: RAM (and so the KHO state) is kept as it is for inspection; the
//    caller stops the machine with the watchdog off;
//  - exit: no state at stake, back to the firmware's boot manager with an
//    error, so that its next boot option runs (boot_flow.h, "No dead
//    ends"). The watchdog stays as it is: the boot manager disarms it when
//    the image returns (EDK2 BmBoot.c) and arms it again for the next option.
BootVerdict BootFlow::end_without_kernel(BootOutcome outcome, HaltReason reason) {
    log("%s reason=%s", outcome == BootOutcome::Halt ? "halt" : "exit", halt_reason_name(reason));
    finish_boot(outcome);
    BootVerdict v;
    v.outcome = outcome;
    v.halt_reason = halt_reason_name(reason);
    return v;
}

BootVerdict BootFlow::halt(HaltReason reason) { return end_without_kernel(BootOutcome::Halt, reason); }

BootVerdict BootFlow::exit_to_firmware(HaltReason reason) {
    return end_without_kernel(BootOutcome::Exit, reason);
}

// A step failed that has no policy of its own (configuration, kernel,
// initrd, command line, placement, loading, boot data). Halt only for a
// protected state whose entry says halt when KHO fails; before the entry
// is read there is no policy to ask, so that is an exit too.
BootVerdict BootFlow::stop(HaltReason reason) {
    bool halt_policy = entry_ready_ && decide_kho_action(c_.entry.kho, c_.entry.kho_on_error, true,
                                                         false) == KhoAction::Halt;
    if (kho_.protected_ && halt_policy) return halt(reason);
    return exit_to_firmware(reason);
}

BootVerdict BootFlow::fail(const Status& s, HaltReason reason) {
    log_error(s);
    return stop(reason);
}

// One try per state (boot_attempt.h), decided before the descriptor is
// parsed: true when the state may be tried now. A state whose earlier try
// never reached its kernel is refused (kho-attempt-failed) and consumed at
// once, so that if this boot fails too, the next one finds no state.
bool BootFlow::begin_attempt(const void* descriptor, size_t descriptor_len, bool descriptor_found) {
    alignas(8) uint8_t record[64];
    size_t rlen = 0;
    bool rfound = false;
    Status s = fw_.read_variable(KhoVariable::Attempt, record, sizeof(record), &rlen, &rfound);
    if (!s) log("warn attempt record unreadable: %s", s.message());
    AttemptVerdict v = assess_attempt(descriptor, descriptor_len, descriptor_found, record, rlen,
                                      rfound && s.is_ok());
    if (v == AttemptVerdict::ForeignRecord || (rfound && !s)) {
        log("warn attempt record of another state dropped");
        if (!(s = fw_.delete_variable(KhoVariable::Attempt))) log("warn %s", s.message());
        v = descriptor_found ? AttemptVerdict::Proceed : AttemptVerdict::NoState;
    }
    if (v == AttemptVerdict::Failed) {
        attempt_recorded_ = true;
        log_error(Status::error(Err::AttemptFailed,
                                "the last boot of this state never reached its kernel (hang, crash or "
                                "reset); state consumed, not tried again"));
        kho_.from_variable = true;
        kho_.manifest_variable = true;  // whatever manifest came with it goes too
        finish_boot(BootOutcome::ColdBoot);  // consumes now; the end writes the real outcome
        kho_.from_variable = kho_.manifest_variable = attempt_recorded_ = false;
        return false;
    }
    if (v != AttemptVerdict::Proceed) return false;
    abi::boot_record::Attempt a = make_attempt_record(descriptor, descriptor_len);
    s = fw_.write_variable(KhoVariable::Attempt, &a, sizeof(a));
    if (s) {
        attempt_recorded_ = true;
        return true;
    }
    // No record, no second chance: consume the descriptor now and go on
    // with the copy in memory, so that a failure cannot repeat. (A static
    // state from the entry has nothing to consume: it is not tried.)
    if (!kho_.from_variable) {
        log("warn attempt not recorded (%s): static state not tried", s.message());
        return false;
    }
    log("warn attempt not recorded (%s): descriptor consumed before use", s.message());
    if (!(s = fw_.delete_variable(KhoVariable::Descriptor))) log("warn %s", s.message());
    return true;
}

// Step 1: the descriptor variable, and the state it names protected
// before anything else allocates; first the record of an earlier try.
void BootFlow::read_descriptor() {
    size_t len = 0;
    bool found = false;
    Status s = fw_.read_variable(KhoVariable::Descriptor, c_.desc_raw, sizeof(c_.desc_raw), &len, &found);
    if (found && !s) {
        kho_.found = kho_.from_variable = true;
        log_error(s);
        phase_ = mark_phase("kho", phase_);
        return;
    }
    // Set before begin_attempt(): a descriptor whose try cannot be recorded
    // is consumed before use, one whose last try failed at once.
    kho_.from_variable = found;
    if (!begin_attempt(c_.desc_raw, len, found)) {
        kho_.from_variable = false;
        if (found) {
            kho_.found = true;  // the failed try's state, consumed already
            phase_ = mark_phase("kho", phase_);
        }
        return;
    }
    kho_.found = kho_.from_variable = true;
    desc_len_ = len;
    s = check_state_variable_attributes(abi::descriptor::kVariableName,
                                        fw_.variable_attributes(KhoVariable::Descriptor), Err::BadDescriptor);
    if (s) s = parse_handover_descriptor(c_.desc_raw, len, &c_.desc);
    if (!s) {
        log_error(s);
        phase_ = mark_phase("kho", phase_);
        return;
    }
    log("kho descriptor source=variable fdt=0x%llx scratch=%u flags=0x%x",
        (unsigned long long)c_.desc.fdt_addr, c_.desc.scratch_count, c_.desc.flags);
    try_protect(c_.desc);
}

// Read with the descriptor, so that a failure to read it is reported next
// to it; checked once the entry says how (kho-verify). A manifest named
// by the descriptor in RAM wins over the variable.
void BootFlow::read_manifest_variable() {
    size_t len = 0;
    bool found = false;
    Status s = fw_.read_variable(KhoVariable::Manifest, c_.manifest_var, sizeof(c_.manifest_var), &len,
                                 &found);
    kho_.manifest_variable = found;
    if (!found || !kho_.found) return;
    if (kho_.manifest_in_ram) {
        log("warn KhoManifest variable ignored: the descriptor names a manifest in RAM");
    } else if (!s || !(s = check_state_variable_attributes(abi::kManifestVariable,
                                                           fw_.variable_attributes(KhoVariable::Manifest),
                                                           Err::Integrity))) {
        kho_.manifest_unreadable = true;
        format(manifest_error_, sizeof(manifest_error_), "%s", s.message());
    } else {
        kho_.manifest = c_.manifest_var;
        kho_.manifest_len = len;
    }
}

// Step 3: the entry's kho-fdt/kho-scratch keys when no descriptor was
// found. The entry names it at every boot: a try that failed is skipped
// once, so failed and plain boots alternate at worst.
void BootFlow::static_state() {
    if (kho_.found) return;
    if (!c_.entry.kho_fdt || c_.entry.kho == KhoMode::Off) {
        log("kho none");
        return;
    }
    kho_.found = true;
    c_.desc = HandoverDescriptor{};
    c_.desc.fdt_addr = c_.entry.kho_fdt;
    c_.desc.fdt_size = abi::kRootFdtSize;
    c_.desc.scratch_count = static_cast<uint32_t>(c_.entry.kho_scratch_count);
    for (size_t i = 0; i < c_.entry.kho_scratch_count; i++) c_.desc.scratch[i] = c_.entry.kho_scratch[i];
    log("kho descriptor source=entry fdt=0x%llx scratch=%u flags=0x0",
        (unsigned long long)c_.desc.fdt_addr, c_.desc.scratch_count);
    if (begin_attempt(&c_.desc, sizeof(c_.desc), true)) try_protect(c_.desc);
    else phase_ = mark_phase("kho", phase_);
}

BootVerdict BootFlow::run() {
    phase_ = facts_.entry_time;
    arm_watchdog(kWatchdogSeconds, "boot");
    // Before anything allocates: a probe armed last boot compares now.
    probe_check();
    read_probe_result();
    read_descriptor();
    read_manifest_variable();
    Status s = read_config();
    if (!s) return fail(s, HaltReason::Config);
    phase_ = mark_phase("config", phase_);
    secure_boot_facts();
    static_state();
    probe_arm_if_asked();
    verify();
    return boot();
}

// Steps 5-8: the policy, then the kernel; every failure on the way is
// the entry's kho-on-error (boot without the state), a halt, or an exit to
// the firmware's boot manager (stop()).
BootVerdict BootFlow::boot() {
    KhoAction action = decide_kho_action(c_.entry.kho, c_.entry.kho_on_error, kho_.found, kho_.usable);
    log("policy %s found=%u usable=%u", kho_action_name(action), kho_.found ? 1 : 0, kho_.usable ? 1 : 0);
    // The policy's own halts: a found state refused under kho-on-error
    // halt stays in RAM as it is, protected or not. kho required with no
    // state has nothing to keep: the next boot option runs.
    if (action == KhoAction::Halt)
        return kho_.found ? halt(HaltReason::KhoUnusable) : exit_to_firmware(HaltReason::KhoRequiredMissing);
    bool handover = action == KhoAction::Handover;
    HaltReason why;
    if (!prepare(handover, cmdline_, &why)) {
        bool policy = why == HaltReason::KhoCmdline || why == HaltReason::KhoNoSpace;
        return policy ? halt(why) : stop(why);
    }
    phase_ = mark_phase("place", phase_);
    // Secure Boot: a kernel that fails verification is refused here,
    // before any boot data exists; stop() then halts (a protected state
    // under kho-on-error halt, kept in RAM) or exits to the boot manager
    // (its next boot option). Either way the state is consumed unhanded.
    Status s = load_files();
    if (!s) return fail(s, s.code() == Err::Unverified ? HaltReason::ImageUnverified : HaltReason::Load);
    phase_ = mark_phase("load", phase_);

    BootDataInputs in{};
    in.images = &images_;
    in.kernel_prefix = c_.kernel_prefix;
    in.prefix_len = sizeof(c_.kernel_prefix);
    in.cmdline = &cmdline_;
    in.facts = &facts_;
    in.handover = handover;
    in.desc = &c_.desc;
    in.multikernel = kho_.multikernel;
    in.secure_boot = secure_boot_;
    uint8_t* block = fw_.ram().writable(images_.boot_data, images_.layout.size);
    if (!block) return fail(Status::error(Err::NoSpace, "boot data is not RAM"), HaltReason::BootParams);
    Handoff h{&images_};
    s = protocol_.write_boot_data(in, block, &chain_, &h, *this);
    if (!s) return fail(s, HaltReason::BootParams);
    measure_boot(handover, block);
    finish_boot(handover ? BootOutcome::Handover : BootOutcome::ColdBoot);
    log("boot entry=%s mode=%s kernel=0x%llx boot_params=0x%llx", c_.entry.id, handover ? "kho" : "cold",
        (unsigned long long)images_.kernel, (unsigned long long)h.entry_data);
    phase_ = mark_phase("boot-params", phase_);
    h.phase_start = phase_;
    BootVerdict v;
    v.outcome = handover ? BootOutcome::Handover : BootOutcome::ColdBoot;
    v.handoff = h;
    return v;
}

}  // namespace kho
