// Secure Boot and measured boot in a boot (secure_boot.h, measured_boot.h,
// docs/security.md): the firmware's Secure Boot state, the kernel checked
// before its bytes are used, and the TPM measurements of what the next
// kernel is given.
#include "boot_flow.h"

namespace kho {

// Read once, before the policy: the mode goes to boot_params.secure_boot,
// the verifier decides how load_files() has the kernel checked.
void BootFlow::secure_boot_facts() {
    SecureBootVariables vars;
    Status s = fw_.read_secure_boot(&vars);
    if (!s) {
        log("warn Secure Boot variables unreadable: %s", s.message());
        vars.read_error = true;
    }
    secure_boot_ = secure_boot_mode(vars);
    verifier_ = choose_kernel_verifier(secure_boot_, fw_.shim_present());
    tpm_ = fw_.tpm_present();
    log("secureboot mode=%s verify=%s tpm=%u", secure_boot_mode_name(secure_boot_),
        kernel_verifier_name(verifier_), tpm_ ? 1 : 0);
}

// The whole kernel file in pool memory (the state is protected by now),
// checked when Secure Boot asks for it. The bytes checked are the bytes
// loaded: the payload is copied from this buffer, never read again from
// the ESP, and the header parsed earlier must be this file's.
Status BootFlow::read_whole_kernel(const uint8_t** out) {
    const LoadedImages& l = images_;
    void* buf = nullptr;
    KHO_TRY(fw_.allocate_pool(l.kernel_file_size, &buf));
    KHO_TRY(fw_.read_file(c_.entry.linux_path, 0, buf, l.kernel_file_size));
    const uint8_t* file = static_cast<const uint8_t*>(buf);
    uint64_t n = l.kernel_file_size < sizeof(c_.kernel_prefix) ? l.kernel_file_size : sizeof(c_.kernel_prefix);
    if (__builtin_memcmp(file, c_.kernel_prefix, n) != 0)
        return Status::error(Err::Io, "%s changed while it was read", c_.entry.linux_path);
    if (verifier_ != KernelVerifier::None) {
        Status s = fw_.verify_image(verifier_, file, l.kernel_file_size);
        if (!s) {
            if (s.code() == Err::Unverified)
                return Status::error(Err::Unverified, "%s refused by %s: %s", c_.entry.linux_path,
                                     kernel_verifier_name(verifier_), s.message());
            return s;
        }
        log("secureboot kernel=%s verified by=%s", c_.entry.linux_path, kernel_verifier_name(verifier_));
    }
    *out = file;
    return Status::ok();
}

// A measurement that fails is reported and the boot goes on, as
// systemd-boot does: the PCRs then do not match any expected value, which
// is what a verifier relying on them detects.
void BootFlow::measure(MeasuredItem item, const void* data, uint64_t len) {
    if (!tpm_) return;
    uint8_t event[64];
    uint32_t event_len = tagged_event(item, event, sizeof(event));
    const MeasurementSpec& spec = measurement_spec(item);
    Status s = fw_.measure(spec.pcr, kEvEventTag, event, event_len, data, len);
    if (!s) log("warn measurement '%s' failed: %s", spec.description, s.message());
    else log("measure pcr=%u tag=0x%x bytes=%llu %s", spec.pcr, spec.tag, (unsigned long long)len,
             spec.description);
}

// The command line and the KHO handover as the next kernel gets them,
// then the log handed on: after it nothing more is measured.
void BootFlow::measure_boot(bool handover, const uint8_t* block) {
    if (!tpm_) return;
    measure(MeasuredItem::Cmdline, cmdline_.c_str(), cmdline_.length());
    if (handover) {
        if (kho_.from_variable) measure(MeasuredItem::KhoDescriptor, c_.desc_raw, desc_len_);
        const uint8_t* fdt = fw_.ram().view(c_.desc.fdt_addr, abi::kRootFdtSize);
        if (fdt) measure(MeasuredItem::KhoFdt, fdt, abi::kRootFdtSize);
        if (!kho_.multikernel)
            measure(MeasuredItem::KhoScratch, block + images_.layout.scratch_table,
                    images_.scratch_count * sizeof(abi::KhoScratch));
        if (kho_.manifest) measure(MeasuredItem::KhoManifest, kho_.manifest, kho_.manifest_len);
    }
    uint64_t bytes = 0, final_events = 0;
    Status s = fw_.publish_tpm_log(&bytes, &final_events);
    if (!s) log("warn TPM event log not handed to the kernel: %s", s.message());
    else log("tpm event-log bytes=%llu final-events=%llu", (unsigned long long)bytes,
             (unsigned long long)final_events);
}

}  // namespace kho
