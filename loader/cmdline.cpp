// Command-line editing for a KHO boot. Word splitting follows the kernel's
// next_arg() (lib/cmdline.c: blanks separate, double quotes group);
// parameter names compare with '-' == '_' as parameq() does; `kho=` takes a
// kstrtobool() value (kernel/liveupdate/kexec_handover.c kho_parse_enable).
#include "cmdline.h"

#include <libfdt.h>
#include <string.h>

#include "../abi/kho_memblock.h"
#include "format.h"

namespace kho {

namespace {

// The kernel's isspace() (lib/ctype.c): \t \n \v \f \r, space, and
// Latin-1's no-break space 0xa0.
bool blank(char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return u == ' ' || (u >= '\t' && u <= '\r') || u == 0xa0;
}

// Calls fn(word, len) for each word; a word's quotes are kept in the span.
template <typename Fn>
bool for_each_word(const char* s, size_t n, Fn fn) {
    size_t i = 0;
    while (i < n) {
        while (i < n && blank(s[i])) i++;
        if (i == n) break;
        size_t start = i;
        bool quoted = false;
        while (i < n && (quoted || !blank(s[i]))) {
            if (s[i] == '"') quoted = !quoted;
            i++;
        }
        if (fn(s + start, i - start)) return true;
    }
    return false;
}

bool name_eq(const char* a, const char* b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char x = a[i] == '-' ? '_' : a[i];
        char y = b[i] == '-' ? '_' : b[i];
        if (x != y) return false;
    }
    return true;
}

// Does `word` (quotes allowed around the value or the whole word) name
// parameter `name`? On a match, *value/*vlen get the value without quotes.
bool word_is(const char* w, size_t wn, const char* name, const char** value, size_t* vlen) {
    if (wn && w[0] == '"') {  // "name=value with blanks"
        w++;
        wn--;
        if (wn && w[wn - 1] == '"') wn--;
    }
    size_t n = strlen(name);
    if (wn < n || !name_eq(w, name, n)) return false;
    if (wn == n) {
        *value = w + n;
        *vlen = 0;
        return true;
    }
    if (w[n] != '=') return false;
    const char* v = w + n + 1;
    size_t vn = wn - n - 1;
    if (vn >= 2 && v[0] == '"' && v[vn - 1] == '"') {
        v++;
        vn -= 2;
    }
    *value = v;
    *vlen = vn;
    return true;
}

// kstrtobool(): first character decides; "on"/"of" need the second.
bool bool_is_false(const char* v, size_t n) {
    if (n == 0) return false;
    switch (v[0]) {
    case '0': case 'n': case 'N': case 'f': case 'F': return true;
    case 'o': case 'O': return n >= 2 && (v[1] == 'f' || v[1] == 'F');
    default: return false;
    }
}

bool region_name_ok(const char* s, size_t n) {
    if (n == 0 || n >= ReserveMemRegion::kNameSize) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        // The name ends the parameter: no blanks, quotes or control bytes.
        if (c <= 0x20 || c >= 0x7f || c == '"') return false;
    }
    return true;
}

}  // namespace

CommandLine::CommandLine(char* buffer, size_t capacity) : buf_(buffer), cap_(capacity) {
    if (cap_) buf_[0] = '\0';
}

Status CommandLine::set(const char* text) {
    size_t n = strlen(text);
    if (n + 1 > cap_)
        return Status::error(Err::Capacity, "command line of %zu bytes exceeds %zu", n, cap_ - 1);
    memcpy(buf_, text, n + 1);
    len_ = n;
    return Status::ok();
}

Status CommandLine::append(const char* param) {
    // next_arg() toggles its quote state at every '"': after an odd number
    // the appended parameter would be read as part of a quoted value (and
    // kho=on silently lost).
    size_t quotes = 0;
    for (size_t i = 0; i < len_; i++) quotes += buf_[i] == '"';
    if (quotes % 2)
        return Status::error(Err::BadEntry, "options have an unbalanced '\"': \"%s\" would be quoted away",
                             param);
    size_t n = strlen(param);
    size_t sep = len_ && !blank(buf_[len_ - 1]) ? 1 : 0;
    if (len_ + sep + n + 1 > cap_)
        return Status::error(Err::Capacity, "command line full (%zu bytes) adding '%s'", cap_ - 1,
                             param);
    if (sep) buf_[len_++] = ' ';
    memcpy(buf_ + len_, param, n + 1);
    len_ += n;
    return Status::ok();
}

bool CommandLine::has(const char* name) const {
    return for_each_word(buf_, len_, [&](const char* w, size_t wn) {
        const char* v;
        size_t vn;
        return word_is(w, wn, name, &v, &vn);
    });
}

bool CommandLine::value_of(const char* name, char* out, size_t out_size) const {
    bool found = false;
    for_each_word(buf_, len_, [&](const char* w, size_t wn) {
        const char* v;
        size_t vn;
        if (!word_is(w, wn, name, &v, &vn)) return false;
        if (out_size) {
            size_t k = vn < out_size - 1 ? vn : out_size - 1;
            memcpy(out, v, k);
            out[k] = '\0';
        }
        found = true;
        return true;
    });
    return found;
}

Status read_reserve_mem_regions(const PhysMem& mem, const KhoState& state, uint8_t* scratch,
                                size_t scratch_size, ReserveMemRegion* out, size_t capacity,
                                size_t* count) {
    *count = 0;
    const KhoSubnode* node = nullptr;
    for (size_t i = 0; i < state.subnode_count; i++)
        if (strcmp(state.subnodes[i].name, abi::memblock::kSubnodeName) == 0)
            node = &state.subnodes[i];
    if (!node) return Status::ok();

    uint64_t size = node->blob_size;
    if (!node->has_blob_size) {
        // No blob-size (kho-v1/v2): the sub-FDT's own header says.
        uint8_t head[sizeof(fdt_header)];
        if (!mem.read(node->blob_phys, head, sizeof(head)))
            return Status::error(Err::OutOfRam, "memblock sub-FDT at 0x%llx is not RAM",
                                 (unsigned long long)node->blob_phys);
        size = fdt_totalsize(head);
    }
    if (size < sizeof(fdt_header) || size > scratch_size)
        return Status::error(Err::BadProperty, "memblock sub-FDT size 0x%llx out of range (max 0x%zx)",
                             (unsigned long long)size, scratch_size);
    if (!mem.read(node->blob_phys, scratch, size))
        return Status::error(Err::OutOfRam, "memblock sub-FDT 0x%llx+0x%llx is not RAM",
                             (unsigned long long)node->blob_phys, (unsigned long long)size);
    const void* fdt = scratch;
    KHO_TRY(check_kho_fdt_blob(fdt, size, "memblock sub-FDT", node->blob_phys));
    if (fdt_node_check_compatible(fdt, 0, abi::memblock::kCompatible) != 0)
        return Status::error(Err::BadVersion, "memblock sub-FDT is not %s",
                             abi::memblock::kCompatible);

    int child;
    fdt_for_each_subnode(child, fdt, 0) {
        // The consumer skips incompatible children too (reserve_mem_kho_revive()).
        if (fdt_node_check_compatible(fdt, child, abi::memblock::kRegionCompatible) != 0) continue;
        int nlen = 0;
        const char* name = fdt_get_name(fdt, child, &nlen);
        int slen = 0, zlen = 0;
        const void* ps = fdt_getprop(fdt, child, abi::memblock::kPropStart, &slen);
        const void* pz = fdt_getprop(fdt, child, abi::memblock::kPropSize, &zlen);
        if (!name || !region_name_ok(name, nlen))
            return Status::error(Err::BadProperty, "memblock region name unusable in reserve_mem=");
        ReserveMemRegion r{};
        memcpy(r.name, name, nlen);
        if (!ps || slen != 8 || !pz || zlen != 8)
            return Status::error(Err::BadProperty, "memblock region '%s': start/size not u64",
                                 r.name);
        memcpy(&r.start, ps, 8);  // native endian (written raw by the producer)
        memcpy(&r.size, pz, 8);
        if (r.size == 0 || r.start + r.size < r.start)
            return Status::error(Err::BadProperty, "memblock region '%s': empty or wrapping", r.name);
        if (*count == capacity)
            return Status::error(Err::Capacity, "more than %zu memblock regions", capacity);
        out[(*count)++] = r;
    }
    return Status::ok();
}

Status format_reserve_mem(const ReserveMemRegion& r, char* out, size_t out_size) {
    // The kernel raises any alignment below SMP_CACHE_BYTES (64) to it, so
    // a start not 64-byte aligned can never be revived.
    uint64_t low = r.start & (~r.start + 1);
    if (r.start == 0 || low < 64)
        return Status::error(Err::BadProperty,
                             "memblock region '%s' start 0x%llx is not 64-byte aligned", r.name,
                             (unsigned long long)r.start);
    uint64_t align = low < 4096 ? low : 4096;
    char size[24];
    if ((r.size & ((1ull << 30) - 1)) == 0) format(size, sizeof(size), "%lluG", (unsigned long long)(r.size >> 30));
    else if ((r.size & ((1ull << 20) - 1)) == 0) format(size, sizeof(size), "%lluM", (unsigned long long)(r.size >> 20));
    else if ((r.size & 1023) == 0) format(size, sizeof(size), "%lluK", (unsigned long long)(r.size >> 10));
    else format(size, sizeof(size), "%llu", (unsigned long long)r.size);
    size_t n = format(out, out_size, "reserve_mem=%s:%llu:%s", size, (unsigned long long)align, r.name);
    if (n + 1 >= out_size)
        return Status::error(Err::Capacity, "reserve_mem= for '%s' too long", r.name);
    return Status::ok();
}

namespace {

// lib/cmdline.c memparse() over [*s, end): simple_strtoull() base 0 ("0x"
// hex, "0" octal, else decimal), then an optional K/M/G/T/P/E suffix.
// Advances *s past what it read.
uint64_t memparse_span(const char** s, const char* end) {
    const char* p = *s;
    unsigned base = 10;
    if (p < end && *p == '0') {
        base = 8;
        if (p + 1 < end && (p[1] == 'x' || p[1] == 'X')) base = 16, p += 2;
    }
    uint64_t v = 0;
    for (; p < end; p++) {
        unsigned d = *p >= '0' && *p <= '9' ? unsigned(*p - '0')
                     : (*p | 0x20) >= 'a' && (*p | 0x20) <= 'f' ? unsigned((*p | 0x20) - 'a' + 10) : 99;
        if (d >= base) break;
        v = v * base + d;
    }
    const char* suffixes = "kmgtpe";
    for (unsigned i = 0; p < end && suffixes[i]; i++)
        if ((*p | 0x20) == suffixes[i]) {
            v <<= 10 * (i + 1);
            p++;
            break;
        }
    *s = p;
    return v;
}

// Does a reserve_mem= value "<size>:<align>:<name>" name `name` the way
// mm/memblock.c reserve_mem() reads it? A word the kernel would refuse
// revives nothing, so it does not count as present.
bool reserve_mem_names(const char* v, size_t vn, const char* name, size_t nn) {
    const char* end = v + vn;
    const char* p = v;
    if (memparse_span(&p, end) == 0 || p == v || p == end || *p != ':') return false;
    ++p;
    memparse_span(&p, end);
    if (p == end || *p != ':') return false;
    ++p;
    return size_t(end - p) == nn && memcmp(p, name, nn) == 0;
}

}  // namespace

Status add_kho_parameters(CommandLine& cmdline, const ReserveMemRegion* regions, size_t count,
                          KhoCmdlineEdits* edits) {
    *edits = KhoCmdlineEdits{};
    char value[8];
    if (cmdline.value_of("kho", value, sizeof(value))) {
        edits->kho_disabled = bool_is_false(value, strlen(value));
    } else {
        KHO_TRY(cmdline.append("kho=on"));
        edits->added_kho_on = true;
    }
    for (size_t i = 0; i < count; i++) {
        // Present already if any reserve_mem= word ends in ":<name>".
        size_t nn = strlen(regions[i].name);
        bool present = for_each_word(cmdline.c_str(), cmdline.length(), [&](const char* w, size_t wn) {
            const char* v;
            size_t vn;
            if (!word_is(w, wn, "reserve_mem", &v, &vn)) return false;
            return reserve_mem_names(v, vn, regions[i].name, nn);
        });
        if (present) continue;
        char param[80];
        KHO_TRY(format_reserve_mem(regions[i], param, sizeof(param)));
        KHO_TRY(cmdline.append(param));
        edits->added_reserve_mem++;
    }
    return Status::ok();
}

}  // namespace kho
