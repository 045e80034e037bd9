#include "handover_variable.h"

#include "../abi/boot_record.h"
#include "../abi/handover_descriptor.h"
#include "../abi/ram_probe.h"
#include "uefi.h"

namespace khoefi {

using kho::Err;
using kho::Status;

namespace {

namespace desc = kho::abi::descriptor;
namespace rec = kho::abi::boot_record;

constexpr size_t kMaxName = 32;
constexpr UINT32 kNvBsRt = EFI_VARIABLE_NON_VOLATILE | EFI_VARIABLE_BOOTSERVICE_ACCESS |
                           EFI_VARIABLE_RUNTIME_ACCESS;

EFI_GUID vendor_guid() {
    EFI_GUID g;
    g.Data1 = kho::abi::kVendorGuid.data1;
    g.Data2 = kho::abi::kVendorGuid.data2;
    g.Data3 = kho::abi::kVendorGuid.data3;
    for (int i = 0; i < 8; i++) g.Data4[i] = kho::abi::kVendorGuid.data4[i];
    return g;
}

void ucs2_name(const char* ascii, CHAR16* out) {
    size_t i = 0;
    for (; ascii[i] && i + 1 < kMaxName; i++) out[i] = static_cast<CHAR16>(ascii[i]);
    out[i] = 0;
}

// `attributes`: what the variable was read with; SetVariable() deletes
// only with the attributes the variable has (0: not read yet, use ours).
// `too_big`: the error kind of a variable larger than the loader's buffer.
struct Variable {
    const char* name;
    Err too_big;
    UINT32 attributes;
};
Variable g_variables[] = {
    {desc::kVariableName, Err::BadDescriptor, 0},
    {kho::abi::kManifestVariable, Err::Integrity, 0},
    {rec::kAttemptVariable, Err::Io, 0},
    {rec::kStatusVariable, Err::Io, 0},
    {kho::abi::probe::kRequestVariable, Err::Io, 0},
    {kho::abi::probe::kArmedVariable, Err::Io, 0},
    {kho::abi::probe::kResultVariable, Err::Io, 0},
};
static_assert(sizeof(g_variables) / sizeof(g_variables[0]) == kho::kKhoVariableCount);

Variable& variable(KhoVariable v) { return g_variables[static_cast<size_t>(v)]; }

}  // namespace

const char* variable_name(KhoVariable v) { return variable(v).name; }
uint32_t variable_attributes(KhoVariable v) { return variable(v).attributes; }

Status read_variable(KhoVariable which, void* buf, size_t capacity, size_t* len, bool* found) {
    Variable& v = variable(which);
    CHAR16 name[kMaxName];
    ucs2_name(v.name, name);
    EFI_GUID guid = vendor_guid();
    UINTN size = capacity;
    EFI_STATUS s = g_st->RuntimeServices->GetVariable(name, &guid, &v.attributes, &size, buf);
    *found = false;
    if (s == EFI_NOT_FOUND) return Status::ok();
    *found = true;
    if (s == EFI_BUFFER_TOO_SMALL)
        return Status::error(v.too_big, "%s variable is %llu bytes, max %zu", v.name, (unsigned long long)size,
                             capacity);
    if (EFI_ERROR(s))
        return Status::error(Err::Io, "GetVariable(%s): status 0x%llx", v.name, (unsigned long long)s);
    *len = size;
    return Status::ok();
}

Status write_variable(KhoVariable which, const void* data, size_t len) {
    Variable& v = variable(which);
    CHAR16 name[kMaxName];
    ucs2_name(v.name, name);
    EFI_GUID guid = vendor_guid();
    // A variable that exists with other attributes must go first (UEFI
    // 2.10 SetVariable(): attributes of an existing variable cannot change).
    if (v.attributes && v.attributes != kNvBsRt) KHO_TRY(delete_variable(which));
    EFI_STATUS s = g_st->RuntimeServices->SetVariable(name, &guid, kNvBsRt, len, const_cast<void*>(data));
    if (EFI_ERROR(s))
        return Status::error(Err::Io, "SetVariable(%s, %zu bytes): status 0x%llx", v.name, len,
                             (unsigned long long)s);
    v.attributes = kNvBsRt;
    return Status::ok();
}

Status delete_variable(KhoVariable which) {
    Variable& v = variable(which);
    CHAR16 name[kMaxName];
    ucs2_name(v.name, name);
    EFI_GUID guid = vendor_guid();
    // DataSize 0 deletes (UEFI 2.10 SetVariable()); the attributes must
    // match the existing variable's.
    UINT32 attributes = v.attributes ? v.attributes : kNvBsRt;
    EFI_STATUS s = g_st->RuntimeServices->SetVariable(name, &guid, attributes, 0, nullptr);
    if (EFI_ERROR(s) && s != EFI_NOT_FOUND)
        return Status::error(Err::Io, "SetVariable(%s, delete): status 0x%llx", v.name,
                             (unsigned long long)s);
    v.attributes = 0;
    return Status::ok();
}

}  // namespace khoefi
