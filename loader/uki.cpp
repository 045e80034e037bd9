// Reading a unified kernel image's sections (uki.h). Every offset comes
// from the file and is checked against the bytes at hand before use.
#include "uki.h"

#include <initializer_list>
#include <string.h>

namespace kho {

namespace {

constexpr uint16_t kMachineX64 = 0x8664;  // IMAGE_FILE_MACHINE_AMD64
constexpr size_t kCoffHeader = 20;
constexpr size_t kSectionHeader = 40;

uint16_t le16(const uint8_t* p) { return uint16_t(p[0] | p[1] << 8); }
uint32_t le32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }

Status bad(const char* file, const char* what) {
    return Status::error(Err::BadImage, "%s: not a unified kernel image: %s", file, what);
}

// The section a header names, if it is one of ours. Names are 8 bytes,
// NUL-padded when shorter.
UkiSection* ours(UkiLayout* l, const uint8_t name[8]) {
    struct Known { const char* name; UkiSection UkiLayout::*field; };
    static constexpr Known kKnown[] = {{".linux", &UkiLayout::linux},
                                       {".initrd", &UkiLayout::initrd},
                                       {".cmdline", &UkiLayout::cmdline},
                                       {".osrel", &UkiLayout::osrel}};
    for (const Known& k : kKnown) {
        size_t n = strlen(k.name);
        if (memcmp(name, k.name, n) == 0 && (n == 8 || name[n] == 0)) return &(l->*k.field);
    }
    return nullptr;
}

}  // namespace

Status parse_uki(const char* file, const uint8_t* head, size_t head_len, uint64_t file_size,
                 UkiLayout* out) {
    *out = UkiLayout{};
    if (head_len > file_size) head_len = size_t(file_size);
    if (head_len < 0x40 || head[0] != 'M' || head[1] != 'Z') return bad(file, "no MZ header");
    uint32_t pe = le32(head + 0x3c);
    if (pe > head_len || head_len - pe < 4 + kCoffHeader || memcmp(head + pe, "PE\0\0", 4) != 0)
        return bad(file, "no PE signature");
    const uint8_t* coff = head + pe + 4;
    if (le16(coff) != kMachineX64) return bad(file, "machine type is not x86-64");
    size_t count = le16(coff + 2);
    size_t table = pe + 4 + kCoffHeader + le16(coff + 16);
    if (table > head_len || (head_len - table) / kSectionHeader < count)
        return bad(file, "section table beyond the headers read");
    for (size_t i = 0; i < count; i++) {
        const uint8_t* s = head + table + i * kSectionHeader;
        UkiSection* dst = ours(out, s);
        if (!dst) continue;
        uint64_t size = le32(s + 8);  // VirtualSize
        if (size == 0) size = le32(s + 16);  // SizeOfRawData
        uint64_t offset = le32(s + 20);  // PointerToRawData
        if (offset > file_size || size > file_size - offset)
            return Status::error(Err::BadImage, "%s: section %.8s runs past the end of the file", file,
                                 reinterpret_cast<const char*>(s));
        if (dst->size == 0) *dst = {offset, size};
    }
    if (out->linux.size == 0) return bad(file, "no .linux section");
    return Status::ok();
}

namespace {

bool blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

void set_field(char* dst, const char* v, size_t n) {
    // Quotes as os-release(5) allows them: one pair of ' or ", no escapes
    // beyond what a title needs.
    if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
        v++;
        n -= 2;
    }
    if (n >= OsRelease::kFieldSize) n = OsRelease::kFieldSize - 1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (static_cast<unsigned char>(v[i]) >= 0x20 && v[i] != 0x7f) dst[k++] = v[i];
    dst[k] = '\0';
}

}  // namespace

void parse_os_release(const char* text, size_t len, OsRelease* out) {
    memset(out, 0, sizeof(*out));
    struct Field { const char* key; char* dst; };
    const Field fields[] = {{"PRETTY_NAME", out->pretty_name}, {"IMAGE_ID", out->image_id},
                            {"NAME", out->name},               {"ID", out->id},
                            {"IMAGE_VERSION", out->image_version}, {"VERSION", out->version},
                            {"VERSION_ID", out->version_id},   {"BUILD_ID", out->build_id}};
    size_t i = 0;
    while (i < len) {
        size_t s = i;
        while (i < len && text[i] != '\n' && text[i] != '\0') i++;
        size_t e = i++;
        while (s < e && blank(text[s])) s++;
        while (e > s && blank(text[e - 1])) e--;
        const char* eq = static_cast<const char*>(memchr(text + s, '=', e - s));
        if (!eq || text[s] == '#') continue;
        size_t kn = size_t(eq - (text + s));
        for (const Field& f : fields)
            if (strlen(f.key) == kn && memcmp(f.key, text + s, kn) == 0)
                set_field(f.dst, eq + 1, size_t(text + e - (eq + 1)));
    }
}

namespace {
const char* first_set(std::initializer_list<const char*> fields) {
    for (const char* f : fields)
        if (f[0]) return f;
    return nullptr;
}
}  // namespace

const char* os_release_title(const OsRelease& r) {
    return first_set({r.pretty_name, r.image_id, r.name, r.id});
}
const char* os_release_version(const OsRelease& r) {
    return first_set({r.image_version, r.version, r.version_id, r.build_id});
}
const char* os_release_sort_key(const OsRelease& r) { return first_set({r.image_id, r.id}); }

}  // namespace kho
