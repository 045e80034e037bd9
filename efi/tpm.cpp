// EFI_TCG2_PROTOCOL (TCG EFI Protocol Specification, family 2.0, rev 1.22
// section 6): only HashLogExtendEvent is called. gnu-efi 3.0.15 has no
// TCG2 header, so the few types come from the specification here.
#include "tpm.h"

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
    void* get_event_log;
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
