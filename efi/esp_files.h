// Files on the ESP the loader was started from (the device of its
// EFI_LOADED_IMAGE), read without pool allocations of the loader's own:
// into caller buffers, or straight to their final physical address.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../loader/firmware.h"
#include "../loader/status.h"

namespace khoefi {

kho::Status esp_open_root();

// Size of the file at `path` ('/'-separated, ESP-relative).
kho::Status esp_file_size(const char* path, uint64_t* size);
// Reads [offset, offset + len) of the file into dst; fails on short reads.
kho::Status esp_read(const char* path, uint64_t offset, void* dst, uint64_t len);
// Whole small file into buf (capacity bytes); *len = its size.
kho::Status esp_read_small(const char* path, char* buf, size_t capacity, size_t* len);

// Firmware::list_dir() (loader/firmware.h): each regular file of `dir`
// named "*<suffix>" to `visit`, in directory order. Missing dir: none.
kho::Status esp_list_dir(const char* dir, const char* suffix, kho::DirVisitor& visit);

}  // namespace khoefi
