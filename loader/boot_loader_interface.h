// systemd's Boot Loader Interface (systemd docs/BOOT_LOADER_INTERFACE.md):
// the variables a boot loader leaves for the booted OS under the vendor
// GUID 4a67b082-0a4c-41cf-b6c7-440b29bb8c4f, and the two it honours from
// the OS (LoaderEntryOneShot, LoaderEntryDefault). Everything here is
// bytes and decisions; the firmware (loader/firmware.h) only reads, writes
// and deletes the variables by name.
//
// Formats (the spec): strings are UTF-16LE, NUL-terminated; times are
// microseconds as decimal strings; LoaderEntries is the ids one after the
// other, each NUL-terminated; LoaderFeatures is a little-endian uint64.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "status.h"

namespace kho {
namespace bli {

// The spec's LoaderFeatures bits (only those khoboot honours are set).
constexpr uint64_t kFeatureConfigTimeout = 1ull << 0;
constexpr uint64_t kFeatureConfigTimeoutOneShot = 1ull << 1;
constexpr uint64_t kFeatureEntryDefault = 1ull << 2;
constexpr uint64_t kFeatureEntryOneShot = 1ull << 3;
constexpr uint64_t kFeatureBootCounting = 1ull << 4;
constexpr uint64_t kFeatureXbootldr = 1ull << 5;
constexpr uint64_t kFeatureRandomSeed = 1ull << 6;
// khoboot reads LoaderEntryDefault and LoaderEntryOneShot; it has no
// timeout variables, boot counting, XBOOTLDR or random seed.
constexpr uint64_t kFeatures = kFeatureEntryDefault | kFeatureEntryOneShot;

// The variables by name (UEFI variable names, ASCII here).
constexpr char kLoaderInfo[] = "LoaderInfo";
constexpr char kFirmwareInfo[] = "LoaderFirmwareInfo";
constexpr char kFirmwareType[] = "LoaderFirmwareType";
constexpr char kTimeInit[] = "LoaderTimeInitUSec";
constexpr char kTimeExec[] = "LoaderTimeExecUSec";
constexpr char kEntries[] = "LoaderEntries";
constexpr char kEntrySelected[] = "LoaderEntrySelected";
constexpr char kEntryDefault[] = "LoaderEntryDefault";
constexpr char kEntryOneShot[] = "LoaderEntryOneShot";
// Non-volatile, kept by the boot loader itself under `default @saved`:
// the id of the entry booted last (systemd-boot(7)).
constexpr char kEntryLastBooted[] = "LoaderEntryLastBooted";
constexpr char kDevicePartUuid[] = "LoaderDevicePartUUID";
constexpr char kImageIdentifier[] = "LoaderImageIdentifier";
constexpr char kFeaturesVariable[] = "LoaderFeatures";

// `ascii` as UTF-16LE with its NUL into `out`; *len the bytes written.
// Err::Capacity when it does not fit.
Status utf16_string(const char* ascii, uint8_t* out, size_t capacity, size_t* len);

// A UTF-16LE string variable's value as ASCII (NUL-terminated): stops at
// the first NUL or the end of the data. Err::BadEntry for an odd length or a
// character outside printable ASCII (entry ids are ASCII), Err::Capacity
// when it does not fit.
Status ascii_from_utf16(const uint8_t* data, size_t len, char* out, size_t capacity);

// LoaderEntries: each id as UTF-16LE with its NUL, one after the other.
Status entries_list(const char* const* ids, size_t count, uint8_t* out, size_t capacity, size_t* len);

// "UEFI <major>.<minor>" from the system table's revision: major in the
// high 16 bits, minor in the low 16 printed with at least two digits, as
// systemd-boot prints it (revision 0x20046 is "UEFI 2.70").
void firmware_type(uint32_t uefi_revision, char* out, size_t capacity);
// "<vendor> <major>.<minor>" from FirmwareVendor and FirmwareRevision.
void firmware_info(const char* vendor, uint32_t revision, char* out, size_t capacity);

// A GUID in the EFI byte layout (Data1-3 little-endian, Data4 as bytes)
// in the normal syntax, upper case: 8-4-4-4-12 hex digits.
void guid_string(const uint8_t guid[16], char* out, size_t capacity);

// Walks a device path (UEFI 2.10 section 10.3: type, subtype, 16-bit
// length per node, ended by type 0x7f subtype 0xff), at most `max` bytes.
// The GPT partition signature of its hard-drive media node (type 4,
// subtype 1, signature type 2); false when there is none.
bool device_path_partition_guid(const uint8_t* path, size_t max, uint8_t guid[16]);
// The file-path media nodes (type 4, subtype 4) joined, as ASCII
// ("\EFI\BOOT\BOOTX64.EFI"); false when there is none or one is not ASCII.
bool device_path_file(const uint8_t* path, size_t max, char* out, size_t capacity);

// Which entry to boot, as systemd-boot decides: load options that name an
// entry win, then LoaderEntryOneShot (consumed by the caller whatever
// happens), then LoaderEntryDefault set by the OS, then loader.conf's
// default. A one-shot or OS default that names no entry is ignored (with a
// warning), so that a stale variable never stops a boot.
enum class EntrySource : uint8_t { LoadOptions, OneShot, OsDefault, LoaderConf };
const char* entry_source_name(EntrySource s);
// `load_option_id`, `one_shot`, `os_default`: empty or null when unset.
// The one-shot names an entry id exactly; the OS default is a glob
// pattern, as loader.conf's default is.
EntrySource choose_entry_source(const char* load_option_id, const char* one_shot,
                                const char* os_default, const char* const* ids, size_t count);

}  // namespace bli
}  // namespace kho
