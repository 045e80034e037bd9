#include "secure_boot.h"

namespace kho {

SecureBootMode secure_boot_mode(const SecureBootVariables& v) {
    if (v.read_error) return SecureBootMode::Unknown;
    if (!v.secure_boot_found || v.secure_boot == 0) return SecureBootMode::Disabled;
    if (!v.setup_mode_found) return SecureBootMode::Unknown;
    if (v.setup_mode == 1) return SecureBootMode::Disabled;
    return SecureBootMode::Enabled;
}

const char* secure_boot_mode_name(SecureBootMode m) {
    switch (m) {
    case SecureBootMode::Unset: return "unset";
    case SecureBootMode::Unknown: return "unknown";
    case SecureBootMode::Disabled: return "disabled";
    case SecureBootMode::Enabled: return "enabled";
    }
    return "?";
}

const char* kernel_verifier_name(KernelVerifier v) {
    switch (v) {
    case KernelVerifier::None: return "none";
    case KernelVerifier::Shim: return "shim";
    case KernelVerifier::Firmware: return "firmware";
    }
    return "?";
}

KernelVerifier choose_kernel_verifier(SecureBootMode mode, bool shim_present) {
    if (mode != SecureBootMode::Enabled && mode != SecureBootMode::Unknown) return KernelVerifier::None;
    return shim_present ? KernelVerifier::Shim : KernelVerifier::Firmware;
}

}  // namespace kho
