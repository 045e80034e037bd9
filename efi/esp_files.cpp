#include "esp_files.h"

#include <string.h>

#include "uefi.h"

namespace khoefi {

using kho::Err;
using kho::Status;

namespace {

EFI_FILE_HANDLE g_root;

bool to_efi_path(const char* path, CHAR16* out, size_t cap) {
    size_t n = 0;
    for (const char* p = path; *p; p++) {
        if (n + 2 >= cap) return false;
        out[n++] = *p == '/' ? u'\\' : static_cast<CHAR16>(static_cast<unsigned char>(*p));
    }
    out[n] = 0;
    return true;
}

Status open_file(const char* path, EFI_FILE_HANDLE* out) {
    if (!g_root) return Status::error(Err::Io, "ESP not open");
    CHAR16 wpath[300];
    if (!to_efi_path(path, wpath, sizeof(wpath) / sizeof(wpath[0])))
        return Status::error(Err::Io, "%s: path too long", path);
    EFI_STATUS s = g_root->Open(g_root, out, wpath, EFI_FILE_MODE_READ, 0);
    if (EFI_ERROR(s))
        return Status::error(Err::Io, "%s: open failed (%s)", path,
                             s == EFI_NOT_FOUND ? "not found" : "firmware error");
    return Status::ok();
}

// EFI_FILE_INFO with room for a long name, in loader storage.
union FileInfoBuffer {
    EFI_FILE_INFO info;
    uint8_t bytes[sizeof(EFI_FILE_INFO) + 512 * sizeof(CHAR16)];
};
FileInfoBuffer g_info;

}  // namespace

Status esp_open_root() {
    EFI_GUID loaded_image_guid = LOADED_IMAGE_PROTOCOL;
    EFI_GUID fs_guid = SIMPLE_FILE_SYSTEM_PROTOCOL;
    EFI_LOADED_IMAGE* li = nullptr;
    if (EFI_ERROR(g_bs->HandleProtocol(g_image, &loaded_image_guid, reinterpret_cast<void**>(&li))))
        return Status::error(Err::Io, "no EFI_LOADED_IMAGE_PROTOCOL on the loader's handle");
    EFI_FILE_IO_INTERFACE* fs = nullptr;
    if (EFI_ERROR(g_bs->HandleProtocol(li->DeviceHandle, &fs_guid, reinterpret_cast<void**>(&fs))))
        return Status::error(Err::Io, "the loader's device has no file system");
    if (EFI_ERROR(fs->OpenVolume(fs, &g_root)))
        return Status::error(Err::Io, "cannot open the ESP volume");
    return Status::ok();
}

Status esp_file_size(const char* path, uint64_t* size) {
    EFI_FILE_HANDLE f;
    KHO_TRY(open_file(path, &f));
    EFI_GUID info_guid = EFI_FILE_INFO_ID;
    UINTN n = sizeof(g_info);
    EFI_STATUS s = f->GetInfo(f, &info_guid, &n, &g_info);
    f->Close(f);
    if (EFI_ERROR(s)) return Status::error(Err::Io, "%s: GetInfo failed", path);
    if (g_info.info.Attribute & EFI_FILE_DIRECTORY)
        return Status::error(Err::Io, "%s: is a directory", path);
    *size = g_info.info.FileSize;
    return Status::ok();
}

Status esp_read(const char* path, uint64_t offset, void* dst, uint64_t len) {
    EFI_FILE_HANDLE f;
    KHO_TRY(open_file(path, &f));
    Status result = Status::ok();
    if (EFI_ERROR(f->SetPosition(f, offset))) {
        result = Status::error(Err::Io, "%s: cannot seek to 0x%llx", path, (unsigned long long)offset);
    } else {
        // Some firmware file systems fail single reads of many MiB: read
        // in bounded chunks.
        uint8_t* p = static_cast<uint8_t*>(dst);
        uint64_t left = len;
        while (left) {
            UINTN chunk = left > (16u << 20) ? (16u << 20) : left;
            UINTN got = chunk;
            if (EFI_ERROR(f->Read(f, &got, p)) || got == 0) {
                result = Status::error(Err::Io, "%s: read failed at 0x%llx", path,
                                       (unsigned long long)(offset + (len - left)));
                break;
            }
            p += got;
            left -= got;
        }
    }
    f->Close(f);
    return result;
}

Status esp_read_small(const char* path, char* buf, size_t capacity, size_t* len) {
    uint64_t size;
    KHO_TRY(esp_file_size(path, &size));
    if (size > capacity)
        return Status::error(Err::Io, "%s: %llu bytes, more than the %zu allowed", path,
                             (unsigned long long)size, capacity);
    KHO_TRY(esp_read(path, 0, buf, size));
    *len = size;
    return Status::ok();
}

namespace {

// The entry's name as ASCII into `name` (a FAT long name is at most 255
// characters); false for a name that is not printable ASCII.
bool ascii_name(const CHAR16* c, char* name, size_t cap, size_t* len) {
    size_t n = 0;
    for (; *c; c++) {
        if (*c < 0x20 || *c > 0x7e || n + 1 >= cap) return false;
        name[n++] = static_cast<char>(*c);
    }
    name[n] = '\0';
    *len = n;
    return true;
}

bool ends_with(const char* name, size_t len, const char* suffix) {
    size_t sn = strlen(suffix);
    if (len <= sn) return false;
    for (size_t i = 0; i < sn; i++) {
        char c = name[len - sn + i];
        char d = suffix[i];
        if (c >= 'A' && c <= 'Z') c += 32;  // FAT names are case-insensitive
        if (d >= 'A' && d <= 'Z') d += 32;
        if (c != d) return false;
    }
    return true;
}

}  // namespace

Status esp_list_dir(const char* dir, const char* suffix, kho::DirVisitor& visit) {
    EFI_FILE_HANDLE d;
    if (!open_file(dir, &d)) return Status::ok();
    Status result = Status::ok();
    for (;;) {
        UINTN n = sizeof(g_info);
        if (EFI_ERROR(d->Read(d, &n, &g_info)) || n == 0) break;
        if (g_info.info.Attribute & EFI_FILE_DIRECTORY) continue;
        char name[260];
        size_t len = 0;
        if (!ascii_name(g_info.info.FileName, name, sizeof(name), &len) || name[0] == '.' ||
            !ends_with(name, len, suffix))
            continue;
        result = visit.name(name, len);
        if (!result) break;
    }
    d->Close(d);
    return result;
}

}  // namespace khoefi
