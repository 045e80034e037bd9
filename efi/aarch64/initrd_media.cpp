#include "initrd_media.h"

namespace khoefi {

namespace {

EFI_GUID g_load_file2 = {0x4006c0c1, 0xfcb3, 0x403e, {0x99, 0x6d, 0x4a, 0x6c, 0x87, 0x24, 0xe0, 0x6d}};
EFI_GUID g_device_path = DEVICE_PATH_PROTOCOL;

// VenMedia(LINUX_EFI_INITRD_MEDIA_GUID)/End (UEFI 2.10 section 10.3.5.3).
struct __attribute__((packed)) InitrdPath {
    uint8_t type, subtype;
    uint16_t length;
    EFI_GUID vendor;
    uint8_t end_type, end_subtype;
    uint16_t end_length;
};
constinit InitrdPath g_path = {MEDIA_DEVICE_PATH, MEDIA_VENDOR_DP, 20,
                               {0x5568e427, 0x68fc, 0x4f3d, {0xac, 0x74, 0xca, 0x55, 0x52, 0x31, 0xcc, 0x68}},
                               END_DEVICE_PATH_TYPE, END_ENTIRE_DEVICE_PATH_SUBTYPE, 4};

uint64_t g_addr, g_size;
EFI_HANDLE g_handle;

EFI_STATUS EFIAPI load_file(EFI_LOAD_FILE_PROTOCOL*, EFI_DEVICE_PATH*, BOOLEAN boot_policy, UINTN* size,
                            VOID* buffer) {
    // LoadFile2 has no boot-policy load (UEFI 2.10 section 13.2).
    if (boot_policy) return EFI_UNSUPPORTED;
    if (!size) return EFI_INVALID_PARAMETER;
    if (!buffer || *size < g_size) {
        *size = g_size;
        return EFI_BUFFER_TOO_SMALL;
    }
    __builtin_memcpy(buffer, reinterpret_cast<const void*>(static_cast<uintptr_t>(g_addr)), g_size);
    *size = g_size;
    return EFI_SUCCESS;
}

constinit EFI_LOAD_FILE_PROTOCOL g_protocol = {load_file};

}  // namespace

bool initrd_media_install(uint64_t addr, uint64_t size) {
    g_addr = addr;
    g_size = size;
    g_handle = nullptr;
    EFI_STATUS s = g_bs->InstallMultipleProtocolInterfaces(&g_handle, &g_device_path, &g_path, &g_load_file2,
                                                           &g_protocol, nullptr);
    return !EFI_ERROR(s);
}

void initrd_media_uninstall() {
    if (!g_handle) return;
    g_bs->UninstallMultipleProtocolInterfaces(g_handle, &g_device_path, &g_path, &g_load_file2, &g_protocol,
                                              nullptr);
    g_handle = nullptr;
}

}  // namespace khoefi
