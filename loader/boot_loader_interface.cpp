// systemd's Boot Loader Interface: the variables' bytes and the entry
// choice (boot_loader_interface.h).
#include "boot_loader_interface.h"

#include "boot_entry.h"
#include "format.h"

namespace kho {
namespace bli {

namespace {

constexpr uint8_t kDpMedia = 4, kDpHardDrive = 1, kDpFilePath = 4;
constexpr uint8_t kDpEnd = 0x7f;
constexpr uint8_t kSignatureGuid = 2;  // HARDDRIVE_DEVICE_PATH.SignatureType: GPT
// HARDDRIVE_DEVICE_PATH (UEFI 2.10 section 10.3.5.1): header 4, partition
// number 4, start 8, size 8, signature 16, MBR type 1, signature type 1.
constexpr size_t kHdSignature = 24, kHdSignatureType = 41, kHdSize = 42;

bool set(const char* s) { return s && s[0]; }

uint16_t le16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }

// One node: *type, *subtype, *len (>= 4, within max); false at the end
// node or on a malformed length.
bool node_at(const uint8_t* path, size_t off, size_t max, uint8_t* type, uint8_t* subtype, size_t* len) {
    if (off + 4 > max) return false;
    *type = path[off];
    *subtype = path[off + 1];
    *len = le16(path + off + 2);
    if (*type == kDpEnd || *len < 4 || off + *len > max) return false;
    return true;
}

bool same(const char* a, const char* b) {
    while (*a && *a == *b) a++, b++;
    return *a == *b;
}

bool names_an_entry(const char* id_or_pattern, bool glob, const char* const* ids, size_t count) {
    for (size_t i = 0; i < count; i++)
        if (glob ? glob_match(id_or_pattern, ids[i]) : same(id_or_pattern, ids[i])) return true;
    return false;
}

}  // namespace

Status utf16_string(const char* ascii, uint8_t* out, size_t capacity, size_t* len) {
    size_t n = 0;
    while (ascii[n]) n++;
    if ((n + 1) * 2 > capacity)
        return Status::error(Err::Capacity, "%zu UTF-16 characters do not fit %zu bytes", n + 1, capacity);
    for (size_t i = 0; i <= n; i++) {
        out[2 * i] = uint8_t(ascii[i]);
        out[2 * i + 1] = 0;
    }
    *len = (n + 1) * 2;
    return Status::ok();
}

Status ascii_from_utf16(const uint8_t* data, size_t len, char* out, size_t capacity) {
    if (len % 2) return Status::error(Err::BadEntry, "UTF-16 value of odd length %zu", len);
    size_t n = 0;
    for (size_t i = 0; i + 1 < len; i += 2) {
        uint16_t ch = le16(data + i);
        if (!ch) break;
        if (ch < 0x20 || ch > 0x7e) return Status::error(Err::BadEntry, "character 0x%x is not ASCII", ch);
        if (n + 1 >= capacity) return Status::error(Err::Capacity, "value longer than %zu", capacity - 1);
        out[n++] = char(ch);
    }
    out[n] = '\0';
    return Status::ok();
}

Status entries_list(const char* const* ids, size_t count, uint8_t* out, size_t capacity, size_t* len) {
    size_t off = 0;
    for (size_t i = 0; i < count; i++) {
        size_t n = 0;
        KHO_TRY(utf16_string(ids[i], out + off, capacity - off, &n));
        off += n;
    }
    *len = off;
    return Status::ok();
}

void firmware_type(uint32_t uefi_revision, char* out, size_t capacity) {
    format(out, capacity, "UEFI %u.%02u", unsigned(uefi_revision >> 16), unsigned(uefi_revision & 0xffff));
}

void firmware_info(const char* vendor, uint32_t revision, char* out, size_t capacity) {
    format(out, capacity, "%s %u.%02u", set(vendor) ? vendor : "unknown", unsigned(revision >> 16),
           unsigned(revision & 0xffff));
}

void guid_string(const uint8_t g[16], char* out, size_t capacity) {
    uint32_t d1 = uint32_t(g[0]) | uint32_t(g[1]) << 8 | uint32_t(g[2]) << 16 | uint32_t(g[3]) << 24;
    format(out, capacity, "%08X-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X", d1, unsigned(le16(g + 4)),
           unsigned(le16(g + 6)), g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
}

bool device_path_partition_guid(const uint8_t* path, size_t max, uint8_t guid[16]) {
    uint8_t type, subtype;
    size_t len;
    for (size_t off = 0; node_at(path, off, max, &type, &subtype, &len); off += len) {
        if (type != kDpMedia || subtype != kDpHardDrive || len < kHdSize) continue;
        if (path[off + kHdSignatureType] != kSignatureGuid) continue;
        for (size_t i = 0; i < 16; i++) guid[i] = path[off + kHdSignature + i];
        return true;
    }
    return false;
}

bool device_path_file(const uint8_t* path, size_t max, char* out, size_t capacity) {
    uint8_t type, subtype;
    size_t len, n = 0;
    bool any = false;
    for (size_t off = 0; node_at(path, off, max, &type, &subtype, &len); off += len) {
        if (type != kDpMedia || subtype != kDpFilePath) continue;
        char part[256];
        if (!ascii_from_utf16(path + off + 4, (len - 4) & ~size_t(1), part, sizeof(part))) return false;
        // Nodes are joined with one separator between them (a path may be
        // split per directory, UEFI 2.10 section 10.3.5.4).
        if (any && n && out[n - 1] != '\\' && part[0] != '\\') {
            if (n + 1 >= capacity) return false;
            out[n++] = '\\';
        }
        for (size_t i = 0; part[i]; i++) {
            if (n + 1 >= capacity) return false;
            out[n++] = part[i];
        }
        any = true;
    }
    if (capacity) out[n] = '\0';
    return any;
}

const char* entry_source_name(EntrySource s) {
    switch (s) {
    case EntrySource::LoadOptions: return "load-options";
    case EntrySource::OneShot: return "one-shot";
    case EntrySource::OsDefault: return "os-default";
    case EntrySource::LoaderConf: return "loader.conf";
    }
    return "?";
}

EntrySource choose_entry_source(const char* load_option_id, const char* one_shot, const char* os_default,
                                const char* const* ids, size_t count) {
    if (set(load_option_id)) return EntrySource::LoadOptions;
    if (set(one_shot) && names_an_entry(one_shot, false, ids, count)) return EntrySource::OneShot;
    if (set(os_default) && names_an_entry(os_default, true, ids, count)) return EntrySource::OsDefault;
    return EntrySource::LoaderConf;
}

}  // namespace bli
}  // namespace kho
