// What the boot flow (loader/boot_flow.h) asks of the firmware. The flow
// decides; an implementation of this interface only performs the calls:
// efi/uefi_firmware.cpp with UEFI boot services on a machine, and a model
// of a firmware (loader/tests/fake_firmware.h) in host tests, so that every
// decision of a boot runs on the host too.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "consoles.h"
#include "memory_plan.h"
#include "phys_mem.h"
#include "secure_boot.h"
#include "status.h"

namespace kho {

// khoboot's UEFI variables (abi/khoboot_vendor.h, abi/ram_probe.h name them).
enum class KhoVariable : uint8_t {
    Descriptor, Manifest, Attempt, Status, ProbeRequest, ProbeArmed, ProbeResult
};
inline constexpr size_t kKhoVariableCount = 7;

struct MemoryMapSnapshot {
    FirmwareMemoryMap view{};
    uintptr_t key = 0;
    uint32_t descriptor_version = 0;
};

// RAM as the firmware's map lists it (the types Linux calls RAM), read
// through PhysMem; load() replaces what it knows from a new map.
class FirmwareRam : public PhysMem {
public:
    virtual Status load(const FirmwareMemoryMap& map) = 0;
    // Writable bytes of [addr, addr + len), memory the loader allocated;
    // nullptr when the range is not RAM.
    virtual uint8_t* writable(uint64_t addr, uint64_t len) = 0;
};

// Receives the names list_dir() finds; an error stops the listing.
class DirVisitor {
public:
    virtual ~DirVisitor() = default;
    virtual Status name(const char* name, size_t len) = 0;
};

class Firmware {
public:
    // --- memory (UEFI 2.10 section 7.2) ---
    // GetMemoryMap() into `buffer` (no allocation).
    virtual Status memory_map(void* buffer, size_t capacity, MemoryMapSnapshot* out) = 0;
    // The number of descriptors the map holds now and their size.
    virtual Status memory_map_size(size_t* count, size_t* descriptor_size) = 0;
    // AllocatePages(AllocateAddress) of [start, end) as `efi_type`.
    virtual Status allocate_at(uint64_t start, uint64_t end, uint32_t efi_type) = 0;
    virtual void free_at(uint64_t start, uint64_t end) = 0;
    // AllocatePool(EfiLoaderData); only once a state is protected (or when
    // there is none): before that, pool memory could land on it.
    virtual Status allocate_pool(size_t bytes, void** out) = 0;
    virtual FirmwareRam& ram() = 0;
    // Physical memory as the CPU reads it through the firmware's identity
    // map (UEFI 2.10 section 2.3.4), whatever owns it now: only the
    // RAM-retention probe's check reads memory it does not own (pages it
    // filled a boot ago), and it only reads.
    virtual const PhysMem& physical() = 0;
    // ResetSystem(EfiResetWarm): RAM is kept as far as the platform keeps
    // it. Returns only when the reset could not be made.
    virtual Status reset_warm() = 0;

    // --- khoboot's variables; *found = false (and ok) when absent ---
    virtual Status read_variable(KhoVariable v, void* buf, size_t capacity, size_t* len,
                                 bool* found) = 0;
    virtual Status write_variable(KhoVariable v, const void* data, size_t len) = 0;
    // Deleting a variable that does not exist is not an error.
    virtual Status delete_variable(KhoVariable v) = 0;
    // The attributes `v` had when read_variable() last found it.
    virtual uint32_t variable_attributes(KhoVariable v) = 0;

    // --- systemd's Boot Loader Interface variables, by name, under its
    // vendor GUID 4a67b082-0a4c-41cf-b6c7-440b29bb8c4f
    // (loader/boot_loader_interface.h); *found = false when absent;
    // *non_volatile: the variable survives a reset (an OS's setting, not
    // a boot loader's report of this boot) ---
    virtual Status read_loader_variable(const char* name, void* buf, size_t capacity, size_t* len,
                                        bool* found, bool* non_volatile) = 0;
    // Volatile, boot and runtime access: a report of this boot only;
    // `non_volatile` for the one setting a loader keeps across boots
    // (LoaderEntryLastBooted, `default @saved`).
    virtual Status write_loader_variable(const char* name, const void* data, size_t len,
                                         bool non_volatile = false) = 0;
    virtual Status delete_loader_variable(const char* name) = 0;

    // --- files on the ESP the loader was started from ---
    virtual Status open_esp() = 0;
    virtual Status file_size(const char* path, uint64_t* size) = 0;
    virtual Status read_file(const char* path, uint64_t offset, void* dst, uint64_t len) = 0;
    // Calls visit() with the name of each regular file of `dir` whose name
    // ends in `suffix` (ASCII case-insensitive, as FAT names are), in the
    // directory's order; names that are not printable ASCII or start with
    // '.' are skipped. A missing directory has no names.
    virtual Status list_dir(const char* dir, const char* suffix, DirVisitor& visit) = 0;

    // --- console, clock, watchdog, keyboard ---
    // One protocol line (without the "KHOBOOT: " prefix); `serial_only`
    // for per-range detail that only tests read.
    virtual void log_line(const char* text, bool serial_only) = 0;
    // While held, console text is buffered: writing to a firmware console
    // may allocate, which must not happen between a map snapshot and the
    // allocations made from it.
    virtual void hold_console(bool hold) = 0;
    // After loader.conf is read: its khoboot-uart (kind None when absent)
    // gets the protocol lines too, those logged so far replayed first.
    virtual void set_log_uart(const UartConfig& uart) { (void)uart; }
    // Logs "phase <name> ..." and returns now; *us = now - start.
    virtual uint64_t mark_phase(const char* name, uint64_t start, uint64_t* us) = 0;
    virtual uint64_t now() = 0;
    virtual uint64_t us_since_entry() = 0;
    virtual Status set_watchdog(uint64_t seconds) = 0;
    // A key pressed since the last call (its UCS-2 character), or false.
    virtual bool read_key(uint16_t* ch) = 0;
    virtual void stall_us(uint64_t us) = 0;

    // --- Secure Boot (UEFI 2.10 section 32) ---
    // The global SecureBoot and SetupMode variables as read.
    virtual Status read_secure_boot(SecureBootVariables* out) = 0;
    // shim's SHIM_LOCK protocol (GUID 605dab50-e046-4300-abb6-3dd810dd8b23)
    // is installed: khoboot was started by shim.
    virtual bool shim_present() = 0;
    // Is `image` (a whole PE/COFF file in memory) authorized? `how` Shim:
    // SHIM_LOCK Verify(); Firmware: LoadImage() from the buffer (the
    // firmware's db/dbx check), UnloadImage() at once, never started.
    // Err::Unverified with the firmware's status when refused.
    virtual Status verify_image(KernelVerifier how, const void* image, uint64_t len) = 0;

    // --- TPM 2.0 measured boot (TCG PC Client Platform Firmware Profile,
    // EFI_TCG2_PROTOCOL) ---
    virtual bool tpm_present() = 0;
    // HashLogExtendEvent(): extends `pcr` with the digest of `data` in
    // every active bank and logs an event of `event_type` whose event
    // data is `event` (the core builds it, measured_boot.h).
    virtual Status measure(uint32_t pcr, uint32_t event_type, const void* event, uint32_t event_len,
                           const void* data, uint64_t len) = 0;
    // After the last measurement: the event log handed to Linux as its
    // EFI stub would (a LINUX_EFI_TPM_EVENT_LOG configuration table),
    // since khoboot enters the kernel past the stub. *bytes: the log's
    // size; *final_events: events also in the final events table.
    virtual Status publish_tpm_log(uint64_t* bytes, uint64_t* final_events) = 0;

protected:
    ~Firmware() = default;
};

}  // namespace kho
