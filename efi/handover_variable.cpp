#include "handover_variable.h"

#include "../abi/handover_descriptor.h"
#include "uefi.h"

namespace khoefi {

using kho::Err;
using kho::Status;

namespace {

namespace desc = kho::abi::descriptor;

EFI_GUID vendor_guid() {
    EFI_GUID g;
    g.Data1 = desc::kVendorGuid.data1;
    g.Data2 = desc::kVendorGuid.data2;
    g.Data3 = desc::kVendorGuid.data3;
    for (int i = 0; i < 8; i++) g.Data4[i] = desc::kVendorGuid.data4[i];
    return g;
}

void variable_name(CHAR16* out) {
    size_t i = 0;
    for (; desc::kVariableName[i]; i++) out[i] = static_cast<CHAR16>(desc::kVariableName[i]);
    out[i] = 0;
}

UINT32 g_attributes;

}  // namespace

Status read_handover_variable(void* buf, size_t capacity, size_t* len, bool* found) {
    CHAR16 name[sizeof(desc::kVariableName)];
    variable_name(name);
    EFI_GUID guid = vendor_guid();
    UINTN size = capacity;
    EFI_STATUS s = g_st->RuntimeServices->GetVariable(name, &guid, &g_attributes, &size, buf);
    *found = false;
    if (s == EFI_NOT_FOUND) return Status::ok();
    *found = true;
    if (s == EFI_BUFFER_TOO_SMALL)
        return Status::error(Err::BadDescriptor, "KhoHandover variable is %llu bytes, max %zu",
                             (unsigned long long)size, capacity);
    if (EFI_ERROR(s))
        return Status::error(Err::Io, "GetVariable(KhoHandover): status 0x%llx",
                             (unsigned long long)s);
    *len = size;
    return Status::ok();
}

Status delete_handover_variable() {
    CHAR16 name[sizeof(desc::kVariableName)];
    variable_name(name);
    EFI_GUID guid = vendor_guid();
    // DataSize 0 deletes (UEFI 2.10 SetVariable()); the attributes must
    // match the existing variable's.
    EFI_STATUS s = g_st->RuntimeServices->SetVariable(name, &guid, g_attributes, 0, nullptr);
    if (EFI_ERROR(s) && s != EFI_NOT_FOUND)
        return Status::error(Err::Io, "SetVariable(KhoHandover, delete): status 0x%llx",
                             (unsigned long long)s);
    return Status::ok();
}

}  // namespace khoefi
