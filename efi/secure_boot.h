// Secure Boot calls for the boot flow (loader/secure_boot.h decides).
#pragma once
#include "../loader/secure_boot.h"
#include "../loader/status.h"

namespace khoefi {

kho::Status read_secure_boot_variables(kho::SecureBootVariables* out);
bool shim_lock_present();
kho::Status verify_pe_image(kho::KernelVerifier how, const void* image, uint64_t len);

}  // namespace khoefi
