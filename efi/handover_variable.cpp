#include "handover_variable.h"

#include "../abi/handover_descriptor.h"
#include "uefi.h"

namespace khoefi {

using kho::Err;
using kho::Status;

namespace {

namespace desc = kho::abi::descriptor;

// The export tool's name for the manifest variable (loader/tools/export.h).
constexpr char kManifestName[] = "KhoManifest";
constexpr size_t kMaxName = 32;

EFI_GUID vendor_guid() {
    EFI_GUID g;
    g.Data1 = desc::kVendorGuid.data1;
    g.Data2 = desc::kVendorGuid.data2;
    g.Data3 = desc::kVendorGuid.data3;
    for (int i = 0; i < 8; i++) g.Data4[i] = desc::kVendorGuid.data4[i];
    return g;
}

void variable_name(const char* ascii, CHAR16* out) {
    size_t i = 0;
    for (; ascii[i] && i + 1 < kMaxName; i++) out[i] = static_cast<CHAR16>(ascii[i]);
    out[i] = 0;
}

// `attributes`: what the variable was read with; SetVariable() deletes
// only with the attributes the variable has. `too_big`: the error kind of
// a variable larger than the loader's buffer (a bad descriptor; a manifest
// the loader cannot check).
struct Variable {
    const char* name;
    Err too_big;
    UINT32 attributes;
};
Variable g_descriptor{desc::kVariableName, Err::BadDescriptor, 0};
Variable g_manifest{kManifestName, Err::Integrity, 0};

Status read_variable(Variable& v, void* buf, size_t capacity, size_t* len, bool* found) {
    CHAR16 name[kMaxName];
    variable_name(v.name, name);
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

Status delete_variable(const Variable& v) {
    CHAR16 name[kMaxName];
    variable_name(v.name, name);
    EFI_GUID guid = vendor_guid();
    // DataSize 0 deletes (UEFI 2.10 SetVariable()); the attributes must
    // match the existing variable's.
    EFI_STATUS s = g_st->RuntimeServices->SetVariable(name, &guid, v.attributes, 0, nullptr);
    if (EFI_ERROR(s) && s != EFI_NOT_FOUND)
        return Status::error(Err::Io, "SetVariable(%s, delete): status 0x%llx", v.name,
                             (unsigned long long)s);
    return Status::ok();
}

}  // namespace

Status read_handover_variable(void* buf, size_t capacity, size_t* len, bool* found) {
    return read_variable(g_descriptor, buf, capacity, len, found);
}

Status delete_handover_variable() { return delete_variable(g_descriptor); }

Status read_manifest_variable(void* buf, size_t capacity, size_t* len, bool* found) {
    return read_variable(g_manifest, buf, capacity, len, found);
}

Status delete_manifest_variable() { return delete_variable(g_manifest); }

}  // namespace khoefi
