// Unified kernel images (Boot Loader Specification "Type #2", systemd
// docs/UNIFIED_KERNEL_IMAGE): a PE/COFF EFI program, systemd-stub, with
// the kernel, initrd, command line and os-release in named sections.
// khoboot does not run the stub: it reads the sections out of the file
// and boots `.linux` with `.initrd` and `.cmdline` as it boots a type #1
// entry, so a KHO handover works the same way.
//
// Layout (Microsoft PE/COFF specification, "MS-DOS Stub", "COFF File
// Header", "Section Table"): the DOS header's e_lfanew (offset 0x3c)
// points at "PE\0\0", then the 20-byte COFF header (Machine,
// NumberOfSections, SizeOfOptionalHeader), then the optional header, then
// 40-byte section headers. As systemd-boot's pe.c does, a section's bytes
// are PointerToRawData and VirtualSize long (SizeOfRawData is padded to
// the file alignment).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "status.h"

namespace kho {

struct UkiSection {
    uint64_t offset = 0;
    uint64_t size = 0;  // 0: the section is absent
};

struct UkiLayout {
    UkiSection linux, initrd, cmdline, osrel;
};

// The bytes parse_uki() wants from the start of the file: the headers and
// section table of any UKI systemd's tools write fit well within them.
constexpr size_t kUkiHeadBytes = 16 * 1024;

// `head`: the first min(file_size, kUkiHeadBytes) bytes of the file named
// `file` (for messages). Checks the PE signature, the x86-64 machine type
// and that every section named above lies inside the file. Err::BadImage
// for anything else, naming the file.
Status parse_uki(const char* file, const uint8_t* head, size_t head_len, uint64_t file_size,
                 UkiLayout* out);

// os-release fields systemd-boot reads from `.osrel` to list a UKI
// (os-release(5): KEY=value lines, values optionally quoted).
struct OsRelease {
    static constexpr size_t kFieldSize = 128;
    char pretty_name[kFieldSize], image_id[kFieldSize], name[kFieldSize], id[kFieldSize];
    char image_version[kFieldSize], version[kFieldSize], version_id[kFieldSize], build_id[kFieldSize];
};
void parse_os_release(const char* text, size_t len, OsRelease* out);

// systemd-boot's choice among the fields (v252 config_entry_add_unified):
// the title is PRETTY_NAME, else IMAGE_ID, NAME, ID; the version
// IMAGE_VERSION, else VERSION, VERSION_ID, BUILD_ID; the sort key IMAGE_ID,
// else ID. Null when none is set: systemd-boot does not list a UKI without
// a title and a version.
const char* os_release_title(const OsRelease& r);
const char* os_release_version(const OsRelease& r);
const char* os_release_sort_key(const OsRelease& r);

}  // namespace kho
