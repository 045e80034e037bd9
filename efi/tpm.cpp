// EFI_TCG2_PROTOCOL (TCG EFI Protocol Specification, family 2.0, rev 1.22
// section 6): only HashLogExtendEvent is called. gnu-efi 3.0.15 has no
// TCG2 header, so the few types come from the specification here.
#include "tpm.h"

#include "../loader/tcg_event_log.h"
#include "uefi.h"

namespace khoefi {

namespace {

EFI_GUID tcg2_guid() {  // 607f766c-7455-42be-930b-e4d76db2720f
    return EFI_GUID{0x607f766c, 0x7455, 0x42be, {0x93, 0x0b, 0xe4, 0xd7, 0x6d, 0xb2, 0x72, 0x0f}};
}

struct Tcg2EventHeader {
    UINT32 header_size;
    UINT16 header_version;  // 1
    UINT32 pcr_index;
    UINT32 event_type;
} __attribute__((packed));
static_assert(sizeof(Tcg2EventHeader) == 14);

struct Tcg2Event {
    UINT32 size;  // of the whole structure, event data included
    Tcg2EventHeader header;
    UINT8 event[64];
} __attribute__((packed));

struct Tcg2Protocol {
    void* get_capability;
    EFI_STATUS(EFIAPI* get_event_log)(Tcg2Protocol* self, UINT32 format, EFI_PHYSICAL_ADDRESS* location,
                                      EFI_PHYSICAL_ADDRESS* last_entry, BOOLEAN* truncated);
    EFI_STATUS(EFIAPI* hash_log_extend_event)(Tcg2Protocol* self, UINT64 flags, EFI_PHYSICAL_ADDRESS data,
                                              UINT64 len, Tcg2Event* event);
    // SubmitCommand, GetActivePcrBanks, ...: unused
};

Tcg2Protocol* tcg2() {
    EFI_GUID guid = tcg2_guid();
    Tcg2Protocol* p = nullptr;
    if (EFI_ERROR(g_bs->LocateProtocol(&guid, nullptr, reinterpret_cast<void**>(&p)))) return nullptr;
    return p;
}

}  // namespace

bool tcg2_present() { return tcg2() != nullptr; }

namespace {

constexpr UINT32 kLogFormatTcg2 = 2;  // EFI_TCG2_EVENT_LOG_FORMAT_TCG_2
// An event's fields are read within this many bytes of its start: the
// firmware gives the last entry's address, not its end.
constexpr size_t kEventBound = 1 << 20;

EFI_GUID linux_tpm_log_guid() {  // b7799cb0-eca2-4943-9667-1fae07b747fa, include/linux/efi.h
    return EFI_GUID{0xb7799cb0, 0xeca2, 0x4943, {0x96, 0x67, 0x1f, 0xae, 0x07, 0xb7, 0x47, 0xfa}};
}
EFI_GUID final_events_guid() {  // 1e2ed096-30e2-4254-bd89-863bbef82325, TCG EFI Protocol spec
    return EFI_GUID{0x1e2ed096, 0x30e2, 0x4254, {0xbd, 0x89, 0x86, 0x3b, 0xbe, 0xf8, 0x23, 0x25}};
}

const void* config_table(const EFI_GUID& guid) {
    for (UINTN i = 0; i < g_st->NumberOfTableEntries; i++) {
        const EFI_CONFIGURATION_TABLE& t = g_st->ConfigurationTable[i];
        if (__builtin_memcmp(&t.VendorGuid, &guid, sizeof(guid)) == 0) return t.VendorTable;
    }
    return nullptr;
}

// Bytes of the events already in the final events table (those logged
// after GetEventLog() was first called, by anyone): Linux skips them in
// that table, as they are in the copy too (final_events_preboot_size).
uint64_t final_events_bytes(const kho::TcgDigestSizes& d, uint64_t* count) {
    const auto* table = static_cast<const uint8_t*>(config_table(final_events_guid()));
    *count = 0;
    if (!table) return 0;
    uint64_t n;
    __builtin_memcpy(&n, table + 8, 8);  // {u64 version, u64 number_of_events}
    const uint8_t* e = table + 16;
    uint64_t total = 0;
    for (uint64_t i = 0; i < n; i++) {
        size_t size = kho::tcg_event2_size(e, kEventBound, d);
        if (!size) break;
        e += size;
        total += size;
        ++*count;
    }
    return total;
}

// include/linux/efi.h struct linux_efi_tpm_eventlog: the log follows the
// 9 bytes of header (u32 size, u32 final_events_preboot_size, u8 version).
struct LinuxTpmLogHeader {
    UINT32 size;
    UINT32 final_events_preboot_size;
    UINT8 version;
} __attribute__((packed));

}  // namespace

kho::Status tcg2_publish_linux_log(uint64_t* bytes, uint64_t* final_events) {
    using kho::Err;
    using kho::Status;
    Tcg2Protocol* p = tcg2();
    if (!p) return Status::error(Err::Io, "EFI_TCG2_PROTOCOL gone");
    EFI_PHYSICAL_ADDRESS location = 0, last = 0;
    BOOLEAN truncated = FALSE;
    EFI_STATUS s = p->get_event_log(p, kLogFormatTcg2, &location, &last, &truncated);
    if (EFI_ERROR(s)) return Status::error(Err::Io, "GetEventLog status 0x%llx", (unsigned long long)s);
    if (!location || !last) return Status::error(Err::Io, "GetEventLog: no TCG2 log");
    const auto* log = reinterpret_cast<const uint8_t*>(location);
    kho::TcgDigestSizes d;
    size_t spec = 0;
    if (!kho::tcg_spec_id(log, kEventBound, &d, &spec))
        return Status::error(Err::Io, "event log at 0x%llx has no Spec ID event", (unsigned long long)location);
    size_t last_size = last == location ? spec : kho::tcg_event2_size(reinterpret_cast<const uint8_t*>(last),
                                                                        kEventBound, d);
    if (!last_size) return Status::error(Err::Io, "malformed last event at 0x%llx", (unsigned long long)last);
    uint64_t size = last - location + last_size;
    uint64_t preboot = final_events_bytes(d, final_events);
    void* table = nullptr;
    s = g_bs->AllocatePool(EfiACPIReclaimMemory, sizeof(LinuxTpmLogHeader) + size, &table);
    if (EFI_ERROR(s)) return Status::error(Err::NoSpace, "AllocatePool status 0x%llx", (unsigned long long)s);
    LinuxTpmLogHeader h{static_cast<UINT32>(size), static_cast<UINT32>(preboot), kLogFormatTcg2};
    __builtin_memcpy(table, &h, sizeof(h));
    __builtin_memcpy(static_cast<uint8_t*>(table) + sizeof(h), log, size);
    EFI_GUID guid = linux_tpm_log_guid();
    s = g_bs->InstallConfigurationTable(&guid, table);
    if (EFI_ERROR(s)) {
        g_bs->FreePool(table);
        return Status::error(Err::Io, "InstallConfigurationTable status 0x%llx", (unsigned long long)s);
    }
    *bytes = size;
    return Status::ok();
}

kho::Status tcg2_measure(uint32_t pcr, uint32_t event_type, const void* event, uint32_t event_len,
                         const void* data, uint64_t len) {
    Tcg2Protocol* p = tcg2();
    if (!p) return kho::Status::error(kho::Err::Io, "EFI_TCG2_PROTOCOL gone");
    Tcg2Event e{};
    if (event_len > sizeof(e.event)) return kho::Status::error(kho::Err::Capacity, "event of %u bytes", event_len);
    e.header.header_size = sizeof(Tcg2EventHeader);
    e.header.header_version = 1;
    e.header.pcr_index = pcr;
    e.header.event_type = event_type;
    __builtin_memcpy(e.event, event, event_len);
    e.size = sizeof(UINT32) + sizeof(Tcg2EventHeader) + event_len;
    EFI_STATUS s = p->hash_log_extend_event(p, 0, reinterpret_cast<uintptr_t>(data), len, &e);
    if (EFI_ERROR(s))
        return kho::Status::error(kho::Err::Io, "HashLogExtendEvent status 0x%llx", (unsigned long long)s);
    return kho::Status::ok();
}

}  // namespace khoefi
