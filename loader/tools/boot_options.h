// The firmware's boot options as Linux sees them in efivarfs: Boot####
// load options, BootCurrent and BootNext (UEFI 2.10 section 3.1.3,
// EFI_LOAD_OPTION: UINT32 Attributes, UINT16 FilePathListLength, CHAR16
// Description[], EFI_DEVICE_PATH_PROTOCOL FilePathList[], UINT8
// OptionalData[]), and which of them starts khoboot.
#pragma once
#include <stdint.h>

#include <optional>
#include <string>
#include <vector>

namespace kho::tools::boot_options {

// EFI_GLOBAL_VARIABLE (UEFI 2.10 section 3.3).
inline constexpr const char kGlobalGuid[] = "8be4df61-93ca-11d2-aa0d-00e098032b8c";
// systemd's Boot Loader Interface vendor GUID (LoaderInfo, LoaderEntryOneShot).
inline constexpr const char kLoaderGuid[] = "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f";
// Where `khotool install` puts khoboot on the ESP.
inline constexpr const char kInstalledPath[] = "\\EFI\\khoboot\\khobootx64.efi";

struct LoadOption {
    uint16_t number = 0;
    std::string description;
    std::string file_path;  // the media file path node, "" for a bare device path
};

// "" or why `bytes` is not a load option.
std::string parse_load_option(const std::vector<uint8_t>& bytes, LoadOption* out);

// Every Boot#### variable under `efivars` (the 4 attribute bytes removed);
// unreadable or malformed ones are skipped.
std::vector<LoadOption> read_boot_options(const std::string& efivars);

// BootCurrent, when the firmware set it.
std::optional<uint16_t> read_boot_current(const std::string& efivars);

// The UTF-16 variable under kLoaderGuid as ASCII ("" when absent).
std::string read_loader_string(const std::string& efivars, const char* name);

struct KhobootEntry {
    uint16_t number = 0;
    std::string why;  // how it was recognised, for the plan
};

// The entry that starts khoboot: `requested` (from --entry) when it exists;
// else one whose file path is kInstalledPath or whose description names
// khoboot; else BootCurrent when LoaderInfo says khoboot booted this OS.
// "" or the error in *error.
std::optional<KhobootEntry> find_khoboot_entry(const std::string& efivars,
                                               std::optional<uint16_t> requested, std::string* error);

// "Boot%04X".
std::string option_name(uint16_t number);

}  // namespace kho::tools::boot_options
