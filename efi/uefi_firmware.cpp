#include "uefi_firmware.h"

#include "clock.h"
#include "esp_files.h"
#include "handover_variable.h"
#include "log.h"
#include "secure_boot.h"
#include "tpm.h"
#include "uefi.h"

namespace khoefi {

using kho::Status;

// Codes up to 0xffff belong to the firmware (UEFI 2.10 SetWatchdogTimer).
constexpr uint64_t kWatchdogCode = 0x4b484f;  // "KHO"

namespace {

// systemd's Boot Loader Interface vendor GUID,
// 4a67b082-0a4c-41cf-b6c7-440b29bb8c4f (docs/BOOT_LOADER_INTERFACE.md).
EFI_GUID loader_guid() {
    return EFI_GUID{0x4a67b082, 0x0a4c, 0x41cf, {0xb6, 0xc7, 0x44, 0x0b, 0x29, 0xbb, 0x8c, 0x4f}};
}

constexpr size_t kMaxName = 32;
constexpr UINT32 kBsRt = EFI_VARIABLE_BOOTSERVICE_ACCESS | EFI_VARIABLE_RUNTIME_ACCESS;

void ucs2(const char* ascii, CHAR16* out) {
    size_t i = 0;
    for (; ascii[i] && i + 1 < kMaxName; i++) out[i] = static_cast<CHAR16>(ascii[i]);
    out[i] = 0;
}

// Attributes of the variable as it exists now; 0 when it does not.
UINT32 existing_attributes(CHAR16* name, EFI_GUID* guid) {
    UINT32 attributes = 0;
    uint8_t data[8];
    UINTN size = sizeof(data);
    EFI_STATUS s = g_st->RuntimeServices->GetVariable(name, guid, &attributes, &size, data);
    return s == EFI_BUFFER_TOO_SMALL || s == EFI_SUCCESS ? attributes : 0;
}

}  // namespace

Status UefiFirmware::memory_map(void* buffer, size_t capacity, kho::MemoryMapSnapshot* out) {
    return get_memory_map(buffer, capacity, out);
}
Status UefiFirmware::memory_map_size(size_t* count, size_t* descriptor_size) {
    return khoefi::memory_map_size(count, descriptor_size);
}
Status UefiFirmware::allocate_at(uint64_t start, uint64_t end, uint32_t efi_type) {
    return khoefi::allocate_at(start, end, efi_type);
}
void UefiFirmware::free_at(uint64_t start, uint64_t end) { khoefi::free_at(start, end); }
Status UefiFirmware::allocate_pool(size_t bytes, void** out) { return khoefi::allocate_pool(bytes, out); }

Status UefiFirmware::reset_warm() {
    g_st->RuntimeServices->ResetSystem(EfiResetWarm, EFI_SUCCESS, 0, nullptr);
    return Status::error(kho::Err::Io, "ResetSystem(EfiResetWarm) returned");
}

Status UefiFirmware::read_variable(kho::KhoVariable v, void* buf, size_t capacity, size_t* len,
                                   bool* found) {
    return khoefi::read_variable(v, buf, capacity, len, found);
}
Status UefiFirmware::write_variable(kho::KhoVariable v, const void* data, size_t len) {
    return khoefi::write_variable(v, data, len);
}
Status UefiFirmware::delete_variable(kho::KhoVariable v) { return khoefi::delete_variable(v); }
uint32_t UefiFirmware::variable_attributes(kho::KhoVariable v) { return khoefi::variable_attributes(v); }

Status UefiFirmware::read_loader_variable(const char* ascii, void* buf, size_t capacity, size_t* len,
                                          bool* found, bool* non_volatile) {
    CHAR16 name[kMaxName];
    ucs2(ascii, name);
    EFI_GUID guid = loader_guid();
    UINTN size = capacity;
    UINT32 attributes = 0;
    EFI_STATUS s = g_st->RuntimeServices->GetVariable(name, &guid, &attributes, &size, buf);
    *found = s != EFI_NOT_FOUND;
    *non_volatile = (attributes & EFI_VARIABLE_NON_VOLATILE) != 0;
    if (!*found) return Status::ok();
    if (EFI_ERROR(s))
        return Status::error(kho::Err::Io, "GetVariable(%s): status 0x%llx", ascii, (unsigned long long)s);
    *len = size;
    return Status::ok();
}

// Volatile: a report of this boot (non-volatile only for
// LoaderEntryLastBooted, which systemd-boot writes so too). A variable of that name left with
// other attributes (an OS's non-volatile LoaderEntryDefault) makes
// SetVariable() fail (UEFI 2.10 section 8.2): it is the OS's, not ours to
// delete, so the error is reported instead.
Status UefiFirmware::write_loader_variable(const char* ascii, const void* data, size_t len,
                                           bool non_volatile) {
    CHAR16 name[kMaxName];
    ucs2(ascii, name);
    EFI_GUID guid = loader_guid();
    UINT32 attributes = non_volatile ? (kBsRt | EFI_VARIABLE_NON_VOLATILE) : kBsRt;
    EFI_STATUS s = g_st->RuntimeServices->SetVariable(name, &guid, attributes, len, const_cast<void*>(data));
    if (EFI_ERROR(s))
        return Status::error(kho::Err::Io, "SetVariable(%s): status 0x%llx", ascii, (unsigned long long)s);
    return Status::ok();
}

Status UefiFirmware::delete_loader_variable(const char* ascii) {
    CHAR16 name[kMaxName];
    ucs2(ascii, name);
    EFI_GUID guid = loader_guid();
    UINT32 old = existing_attributes(name, &guid);
    if (!old) return Status::ok();
    EFI_STATUS s = g_st->RuntimeServices->SetVariable(name, &guid, old, 0, nullptr);
    if (EFI_ERROR(s) && s != EFI_NOT_FOUND)
        return Status::error(kho::Err::Io, "SetVariable(%s, delete): status 0x%llx", ascii,
                             (unsigned long long)s);
    return Status::ok();
}

Status UefiFirmware::open_esp() { return esp_open_root(); }
Status UefiFirmware::file_size(const char* path, uint64_t* size) { return esp_file_size(path, size); }
Status UefiFirmware::read_file(const char* path, uint64_t offset, void* dst, uint64_t len) {
    return esp_read(path, offset, dst, len);
}
Status UefiFirmware::list_dir(const char* dir, const char* suffix, kho::DirVisitor& visit) {
    return esp_list_dir(dir, suffix, visit);
}

void UefiFirmware::log_line(const char* text, bool serial_only) {
    if (serial_only) logf_serial("%s", text);
    else logf("%s", text);
}
void UefiFirmware::hold_console(bool hold) { log_hold_console(hold); }

void UefiFirmware::set_log_uart(const kho::UartConfig& uart) { log_set_uart(uart); }
uint64_t UefiFirmware::mark_phase(const char* name, uint64_t start, uint64_t* us) {
    uint64_t now = log_phase(name, start);
    *us = clock_us(now) - clock_us(start);
    return now;
}
uint64_t UefiFirmware::now() { return rdtsc(); }
uint64_t UefiFirmware::us_since_entry() { return clock_us(rdtsc()); }

Status UefiFirmware::set_watchdog(uint64_t seconds) {
    EFI_STATUS es = g_bs->SetWatchdogTimer(seconds, kWatchdogCode, 0, nullptr);
    if (EFI_ERROR(es)) return Status::error(kho::Err::Io, "status 0x%llx", (unsigned long long)es);
    return Status::ok();
}

bool UefiFirmware::read_key(uint16_t* ch) {
    SIMPLE_INPUT_INTERFACE* in = g_st->ConIn;
    EFI_INPUT_KEY key;
    if (!in || in->ReadKeyStroke(in, &key) != EFI_SUCCESS) return false;
    *ch = key.UnicodeChar;
    return true;
}
void UefiFirmware::stall_us(uint64_t us) { g_bs->Stall(us); }

Status UefiFirmware::read_secure_boot(kho::SecureBootVariables* out) { return read_secure_boot_variables(out); }
bool UefiFirmware::shim_present() { return shim_lock_present(); }
Status UefiFirmware::verify_image(kho::KernelVerifier how, const void* image, uint64_t len) {
    return verify_pe_image(how, image, len);
}
bool UefiFirmware::tpm_present() { return tcg2_present(); }
Status UefiFirmware::measure(uint32_t pcr, uint32_t event_type, const void* event, uint32_t event_len,
                             const void* data, uint64_t len) {
    return tcg2_measure(pcr, event_type, event, event_len, data, len);
}
Status UefiFirmware::publish_tpm_log(uint64_t* bytes, uint64_t* final_events) {
    return tcg2_publish_linux_log(bytes, final_events);
}

}  // namespace khoefi
