// The unified kernel image section-table reader (loader/uki.h) and the
// os-release reader on arbitrary bytes. Whatever parse_uki() accepts must
// name sections inside the file, with a .linux one; os-release fields stay
// NUL-terminated within their buffers.
#include <string.h>

#include <initializer_list>

#include "loader/uki.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // The first 8 bytes claim the file's size (never below the bytes
    // given), so the checks against the file's end are exercised too.
    if (size < 8) return 0;
    uint64_t file_size;
    memcpy(&file_size, data, 8);
    const uint8_t* head = data + 8;
    size_t head_len = size - 8 < kho::kUkiHeadBytes ? size - 8 : kho::kUkiHeadBytes;
    if (file_size < size - 8) file_size = size - 8;
    kho::UkiLayout l;
    if (kho::parse_uki("fuzz.efi", head, head_len, file_size, &l)) {
        if (l.linux.size == 0) __builtin_trap();
        for (const kho::UkiSection* s : {&l.linux, &l.initrd, &l.cmdline, &l.osrel})
            if (s->offset > file_size || s->size > file_size - s->offset) __builtin_trap();
    }
    kho::OsRelease r;
    kho::parse_os_release(reinterpret_cast<const char*>(data), size, &r);
    for (const char* f : {r.pretty_name, r.image_id, r.name, r.id, r.image_version, r.version, r.version_id,
                          r.build_id})
        if (strnlen(f, kho::OsRelease::kFieldSize) == kho::OsRelease::kFieldSize) __builtin_trap();
    return 0;
}
