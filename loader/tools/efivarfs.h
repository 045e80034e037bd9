// khoboot's UEFI variables as Linux user space reaches them: files
// "Name-<vendor guid>" under efivarfs, each a 4-byte attribute word
// followed by the data (Documentation/filesystems/efivarfs.rst). Names
// and the GUID come from abi/khoboot_vendor.h. Every function returns ""
// or an error message naming the file.
#pragma once
#include <stdint.h>

#include <string>
#include <vector>

namespace kho::tools::exporting {

// EFI_VARIABLE_NON_VOLATILE | BOOTSERVICE_ACCESS | RUNTIME_ACCESS.
inline constexpr uint32_t kVariableAttributes = 0x7;
inline constexpr const char kEfivarfsDir[] = "/sys/firmware/efi/efivars";

// dir/Name-<kVendorGuidText>.
std::string variable_path(const std::string& dir, const char* name);

// `dir` must be a directory we can use; at kEfivarfsDir it must also be
// efivarfs (another directory is accepted as is, for host tests).
std::string check_efivarfs(const std::string& dir);

// Deletes a variable (unlinks its file); absent is fine.
std::string remove_variable(const std::string& path);

// Writes attributes + data in one write() (one SetVariable()) and reads it
// back as stored.
std::string write_variable(const std::string& path, const std::vector<uint8_t>& data);

}  // namespace kho::tools::exporting
