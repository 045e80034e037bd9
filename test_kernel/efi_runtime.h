// UEFI runtime services from the OS side, after ExitBootServices and
// before any SetVirtualAddressMap: the services run with the caller's
// identity map (UEFI 2.10 section 8, "Services - Runtime Services"), with
// the Microsoft x64 calling convention (section 2.3.4). The system table
// comes from boot_params.efi_info (EL64 signature, systab + systab_hi).
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "../abi/handover_descriptor.h"

namespace tk {

using EfiGuid = kho::abi::descriptor::Guid;
using EfiStatus = uint64_t;

inline constexpr EfiStatus kEfiSuccess = 0;
inline constexpr EfiStatus kEfiNotFound = 0x800000000000000eull;
inline constexpr EfiStatus kEfiBufferTooSmall = 0x8000000000000005ull;
inline constexpr uint32_t kVarNonVolatile = 0x1;
inline constexpr uint32_t kVarBootService = 0x2;
inline constexpr uint32_t kVarRuntime = 0x4;

class EfiRuntime {
public:
    // Validates the system table and runtime services table headers;
    // `why` names the first problem. `virtual_mode`: the previous OS called
    // SetVirtualAddressMap, so the table's pointers are virtual addresses
    // the caller has mapped (the handoff image after kexec); otherwise they
    // must lie in the identity map.
    bool init(uint64_t systab, const char** why, bool virtual_mode = false);
    bool ready() const { return rt_ != nullptr; }
    uint32_t firmware_revision() const { return fw_revision_; }

    EfiStatus get_variable(const char16_t* name, const EfiGuid& guid, uint32_t* attributes,
                           uint64_t* size, void* data) const;
    EfiStatus set_variable(const char16_t* name, const EfiGuid& guid, uint32_t attributes,
                           uint64_t size, const void* data) const;
    // ResetSystem(EfiResetWarm); falls back to the chipset reset control
    // register (port 0xcf9) if the service returns.
    [[noreturn]] void reset_warm() const;

    struct RuntimeServices;  // EFI_RUNTIME_SERVICES, laid out in efi_runtime.cpp

private:
    const RuntimeServices* rt_ = nullptr;
    uint32_t fw_revision_ = 0;
};

}  // namespace tk
