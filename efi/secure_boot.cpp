// The firmware side of kernel verification (loader/secure_boot.h says why
// these two ways): shim's SHIM_LOCK Verify(), or LoadImage() of the buffer
// followed at once by UnloadImage().
#include "secure_boot.h"

#include "uefi.h"

namespace khoefi {

using kho::Err;
using kho::Status;

namespace {

// rhboot/shim include/shim.h: SHIM_LOCK_GUID and the protocol's first
// member, Verify(buffer, size); the other members are not used here.
EFI_GUID shim_lock_guid() {
    return EFI_GUID{0x605dab50, 0xe046, 0x4300, {0xab, 0xb6, 0x3d, 0xd8, 0x10, 0xdd, 0x8b, 0x23}};
}
struct ShimLock {
    EFI_STATUS(EFIAPI* verify)(void* buffer, UINT32 size);
    // Hash, Context: unused
};

// One byte of a global variable; *found false when absent.
EFI_STATUS read_u8(CHAR16* name, uint8_t* value, bool* found) {
    EFI_GUID global = EFI_GLOBAL_VARIABLE;
    UINTN size = 1;
    UINT32 attributes = 0;
    EFI_STATUS s = g_st->RuntimeServices->GetVariable(name, &global, &attributes, &size, value);
    *found = s == EFI_SUCCESS && size == 1;
    return s == EFI_NOT_FOUND ? EFI_SUCCESS : s;
}

// A memory-mapped device path (UEFI 2.10 section 10.3.2.3) naming the
// buffer, as systemd-boot gives LoadImage() for an image in memory: EDK2's
// TPM measurement handler refuses a null path, and the verification
// handler treats a memory path as an image of unknown origin, which its
// policy always checks (DENY_EXECUTE_ON_SECURITY_VIOLATION).
struct MemoryImagePath {
    MEMMAP_DEVICE_PATH memmap;
    EFI_DEVICE_PATH end;
} __attribute__((packed));
static_assert(sizeof(MEMMAP_DEVICE_PATH) == 24);

}  // namespace

Status read_secure_boot_variables(kho::SecureBootVariables* out) {
    *out = kho::SecureBootVariables{};
    EFI_STATUS a = read_u8(KHO_W("SecureBoot"), &out->secure_boot, &out->secure_boot_found);
    EFI_STATUS b = read_u8(KHO_W("SetupMode"), &out->setup_mode, &out->setup_mode_found);
    if (EFI_ERROR(a) || EFI_ERROR(b))
        return Status::error(Err::Io, "GetVariable SecureBoot 0x%llx SetupMode 0x%llx", (unsigned long long)a,
                             (unsigned long long)b);
    return Status::ok();
}

bool shim_lock_present() {
    EFI_GUID guid = shim_lock_guid();
    void* p = nullptr;
    return !EFI_ERROR(g_bs->LocateProtocol(&guid, nullptr, &p)) && p;
}

Status verify_pe_image(kho::KernelVerifier how, const void* image, uint64_t len) {
    if (how == kho::KernelVerifier::Shim) {
        EFI_GUID guid = shim_lock_guid();
        ShimLock* shim = nullptr;
        EFI_STATUS s = g_bs->LocateProtocol(&guid, nullptr, reinterpret_cast<void**>(&shim));
        if (EFI_ERROR(s) || !shim) return Status::error(Err::Io, "SHIM_LOCK gone: 0x%llx", (unsigned long long)s);
        if (len > 0xffffffffu) return Status::error(Err::Unverified, "image of %llu bytes", (unsigned long long)len);
        s = shim->verify(const_cast<void*>(image), static_cast<UINT32>(len));
        if (EFI_ERROR(s)) return Status::error(Err::Unverified, "shim Verify status 0x%llx", (unsigned long long)s);
        return Status::ok();
    }
    MemoryImagePath path{};
    path.memmap.Header.Type = HARDWARE_DEVICE_PATH;
    path.memmap.Header.SubType = HW_MEMMAP_DP;
    path.memmap.Header.Length[0] = sizeof(MEMMAP_DEVICE_PATH);
    path.memmap.MemoryType = EfiLoaderData;
    path.memmap.StartingAddress = reinterpret_cast<uintptr_t>(image);
    path.memmap.EndingAddress = reinterpret_cast<uintptr_t>(image) + len - 1;
    path.end.Type = END_DEVICE_PATH_TYPE;
    path.end.SubType = END_ENTIRE_DEVICE_PATH_SUBTYPE;
    path.end.Length[0] = sizeof(EFI_DEVICE_PATH);
    EFI_HANDLE h = nullptr;
    EFI_STATUS s = g_bs->LoadImage(FALSE, g_image, reinterpret_cast<EFI_DEVICE_PATH*>(&path),
                                   const_cast<void*>(image), len, &h);
    // EFI_SECURITY_VIOLATION leaves the image loaded (UEFI 2.10 section
    // 7.4.1): unload it too; it is never started.
    if (h) g_bs->UnloadImage(h);
    if (s == EFI_SECURITY_VIOLATION || s == EFI_ACCESS_DENIED)
        return Status::error(Err::Unverified, "LoadImage status 0x%llx (not authorized by db, or in dbx)",
                             (unsigned long long)s);
    if (EFI_ERROR(s))
        return Status::error(Err::Unverified, "LoadImage status 0x%llx (not a loadable PE image)",
                             (unsigned long long)s);
    return Status::ok();
}

}  // namespace khoefi
