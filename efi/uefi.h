// gnu-efi for C++: the C headers, UCS-2 literals, and the handful of
// firmware pointers every glue file needs. Calls use the MS ABI directly
// (GNU_EFI_USE_MS_ABI), not gnu-efi's efi_call wrappers.
#pragma once
extern "C" {
#include <efi.h>
#include <efilib.h>
}

// CHAR16 is UINT16 in gnu-efi; u"" literals have the same layout.
#define KHO_W(s) (reinterpret_cast<CHAR16*>(const_cast<char16_t*>(u"" s)))

namespace khoefi {

extern EFI_HANDLE g_image;
extern EFI_SYSTEM_TABLE* g_st;
extern EFI_BOOT_SERVICES* g_bs;

}  // namespace khoefi
