#include "efi_runtime.h"

#include "io.h"
#include "paging.h"

namespace tk {

namespace {

// EFI_TABLE_HEADER signatures (UEFI 2.10 4.3, 4.5).
constexpr uint64_t kSystemTableSignature = 0x5453595320494249ull;  // "IBI SYST"
constexpr uint64_t kRuntimeServicesSignature = 0x56524553544e5552ull;  // "RUNTSERV"

struct TableHeader {
    uint64_t signature;
    uint32_t revision;
    uint32_t header_size;
    uint32_t crc32;
    uint32_t reserved;
};

struct SystemTable {
    TableHeader hdr;
    uint64_t firmware_vendor;
    uint32_t firmware_revision;
    uint32_t pad;
    uint64_t console_in_handle, con_in, console_out_handle, con_out, stderr_handle, std_err;
    uint64_t runtime_services;
    uint64_t boot_services;
    uint64_t number_of_table_entries;
    uint64_t configuration_table;
};
static_assert(__builtin_offsetof(SystemTable, runtime_services) == 88);

#define MSABI __attribute__((ms_abi))
using GetVariableFn = EfiStatus(MSABI*)(const char16_t*, const EfiGuid*, uint32_t*, uint64_t*,
                                         void*);
using SetVariableFn = EfiStatus(MSABI*)(const char16_t*, const EfiGuid*, uint32_t, uint64_t,
                                         const void*);
using ResetSystemFn = void(MSABI*)(uint32_t, EfiStatus, uint64_t, const void*);

}  // namespace

struct EfiRuntime::RuntimeServices {
    TableHeader hdr;
    uint64_t get_time, set_time, get_wakeup_time, set_wakeup_time;
    uint64_t set_virtual_address_map, convert_pointer;
    GetVariableFn get_variable;
    uint64_t get_next_variable_name;
    SetVariableFn set_variable;
    uint64_t get_next_high_monotonic_count;
    ResetSystemFn reset_system;
};
static_assert(__builtin_offsetof(EfiRuntime::RuntimeServices, get_variable) == 72);
static_assert(__builtin_offsetof(EfiRuntime::RuntimeServices, set_variable) == 88);
static_assert(__builtin_offsetof(EfiRuntime::RuntimeServices, reset_system) == 104);

bool EfiRuntime::init(uint64_t systab, const char** why, bool virtual_mode) {
    rt_ = nullptr;
    if (!systab || systab >= kIdentityLimit) {
        *why = "no system table";
        return false;
    }
    const auto* st = reinterpret_cast<const SystemTable*>(systab);
    if (st->hdr.signature != kSystemTableSignature) {
        *why = "system table signature";
        return false;
    }
    const auto* rt = reinterpret_cast<const RuntimeServices*>(st->runtime_services);
    if (!st->runtime_services || (!virtual_mode && st->runtime_services >= kIdentityLimit) ||
        rt->hdr.signature != kRuntimeServicesSignature) {
        *why = "runtime services signature";
        return false;
    }
    rt_ = rt;
    fw_revision_ = st->firmware_revision;
    return true;
}

EfiStatus EfiRuntime::get_variable(const char16_t* name, const EfiGuid& guid, uint32_t* attributes,
                                   uint64_t* size, void* data) const {
    return rt_->get_variable(name, &guid, attributes, size, data);
}

EfiStatus EfiRuntime::set_variable(const char16_t* name, const EfiGuid& guid, uint32_t attributes,
                                   uint64_t size, const void* data) const {
    return rt_->set_variable(name, &guid, attributes, size, data);
}

void EfiRuntime::reset_warm() const {
    if (rt_) rt_->reset_system(1 /* EfiResetWarm */, kEfiSuccess, 0, nullptr);
    // ICH9/PIIX reset control register: SYS_RST | RST_CPU.
    outb(0xcf9, 0x06);
    halt_forever();
}

}  // namespace tk
