// Secure Boot decisions: what the firmware's variables say, what the next
// kernel is told (boot_params.secure_boot), and how khoboot has the kernel
// checked before it is started (docs/security.md says why).
//
// khoboot loads the kernel with its own bzImage code and jumps to the
// 64-bit entry, so nothing in the firmware checks that image on its own:
// khoboot must ask. When shim is present (its SHIM_LOCK protocol), shim's
// Verify() checks the buffer against db, MOK and shim's built-in
// certificate, minus dbx and MOKX, as GRUB and systemd-boot do under shim.
// Otherwise the firmware's own check: LoadImage() of the kernel buffer
// (which runs the Security2 architectural protocol, EDK2's
// DxeImageVerificationLib, against db/dbx) and UnloadImage(), the image
// never started. LoadImage rather than calling the Security(2)
// architectural protocols directly: those are PI-specification DXE
// internals, not UEFI, and not every firmware publishes them to
// applications; LoadImage is the UEFI 2.10 section 7.4 interface whose
// Secure Boot behaviour (section 32.4.2: EFI_SECURITY_VIOLATION or
// EFI_ACCESS_DENIED for an image not authorized by db) the specification
// promises. systemd-boot makes the same choice for kernels it cannot run
// through shim (src/boot/linux.c: LoadImage + StartImage under Secure
// Boot).
#pragma once
#include <stdint.h>

namespace kho {

// The global variables (EFI_GLOBAL_VARIABLE GUID, UEFI 2.10 section 3.3)
// as the firmware returned them.
struct SecureBootVariables {
    bool read_error = false;         // GetVariable failed other than not-found
    bool secure_boot_found = false;  // "SecureBoot": 1 = enforcing
    uint8_t secure_boot = 0;
    bool setup_mode_found = false;   // "SetupMode": 1 = no PK, nothing enforced
    uint8_t setup_mode = 0;
};

// Linux's enum efi_secureboot_mode (include/linux/efi.h), the value of
// boot_params.secure_boot (arch/x86/include/uapi/asm/bootparam.h, 0x1ec).
enum class SecureBootMode : uint8_t { Unset = 0, Unknown = 1, Disabled = 2, Enabled = 3 };

// The mode by the rules of Linux's EFI stub (drivers/firmware/efi/libstub/
// secureboot.c efi_get_secureboot()): SecureBoot absent or 0, or SetupMode
// 1, is Disabled; a variable that could not be read is Unknown; else
// Enabled. (The stub also honours shim's MokSBState; khoboot does not
// read it: docs/security.md.)
SecureBootMode secure_boot_mode(const SecureBootVariables& v);
const char* secure_boot_mode_name(SecureBootMode m);

enum class KernelVerifier : uint8_t { None, Shim, Firmware };
const char* kernel_verifier_name(KernelVerifier v);

// None when Secure Boot is off (nothing to enforce: the firmware's
// LoadImage would accept any image). Unknown fails closed: the kernel is
// checked, and a firmware that does not enforce accepts it.
KernelVerifier choose_kernel_verifier(SecureBootMode mode, bool shim_present);

}  // namespace kho
