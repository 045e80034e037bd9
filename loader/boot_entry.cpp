// Boot Loader Specification Type #1 parsing. The grammar follows the
// specification and systemd-boot's reader (src/boot/boot.c, line_get_key_value):
// one "key value" pair a line, key and value separated by blanks, '#'
// starts a comment line, repeated `options` lines are joined with a blank.
#include "boot_entry.h"

#include <string.h>

#include "format.h"

namespace kho {

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

// Copies [s, s + n) into dst with a NUL; false when it does not fit.
bool copy_str(char* dst, size_t cap, const char* s, size_t n) {
    if (n + 1 > cap) return false;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

bool str_eq(const char* a, size_t an, const char* b) {
    size_t bn = strlen(b);
    return an == bn && memcmp(a, b, an) == 0;
}

// Unsigned number: decimal or 0x hex, optional K/M/G/T suffix (powers of
// 1024, as the kernel's memparse()). Rejects overflow and trailing junk.
bool parse_number(const char* s, size_t n, uint64_t* out) {
    if (n == 0) return false;
    unsigned base = 10;
    size_t i = 0;
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        i = 2;
    }
    uint64_t v = 0;
    size_t digits = 0;
    for (; i < n; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (base == 16 && c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (base == 16 && c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else break;
        if (v > (UINT64_MAX - d) / base) return false;
        v = v * base + d;
        digits++;
    }
    if (digits == 0) return false;
    if (i < n) {
        unsigned shift;
        switch (s[i]) {
        case 'K': case 'k': shift = 10; break;
        case 'M': case 'm': shift = 20; break;
        case 'G': case 'g': shift = 30; break;
        case 'T': case 't': shift = 40; break;
        default: return false;
        }
        if (i + 1 != n) return false;
        if (v > (UINT64_MAX >> shift)) return false;
        v <<= shift;
    }
    *out = v;
    return true;
}

// An ESP path: printable ASCII, no "..", no backslashes (BLS uses '/').
bool valid_path(const char* s, size_t n) {
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c < 0x21 || c > 0x7e || c == '\\') return false;
        if (c == '.' && i + 1 < n && s[i + 1] == '.' && (i == 0 || s[i - 1] == '/') &&
            (i + 2 == n || s[i + 2] == '/'))
            return false;
    }
    return true;
}

struct Where {
    const char* file;
    unsigned line;
};

Status bad(const Where& w, const char* what, const char* v, size_t n) {
    char shown[48];
    size_t k = n < sizeof(shown) - 1 ? n : sizeof(shown) - 1;
    memcpy(shown, v, k);
    shown[k] = '\0';
    return Status::error(Err::BadEntry, "%s:%u: %s '%s'%s", w.file, w.line, what, shown,
                         n > k ? "..." : "");
}

void warn(ConfigWarnings* w, const Where& at, const char* fmt, const char* key, size_t n) {
    if (!w) return;
    char k[40];
    size_t m = n < sizeof(k) - 1 ? n : sizeof(k) - 1;
    memcpy(k, key, m);
    k[m] = '\0';
    char msg[96];
    format(msg, sizeof(msg), fmt, k);
    w->warn(at.file, at.line, msg);
}

// kho-scratch: one or more "addr:size" pairs separated by blanks or commas.
Status parse_scratch_list(const Where& at, const char* v, size_t n, BootEntry* e) {
    size_t i = 0;
    bool any = false;
    while (i < n) {
        while (i < n && (is_blank(v[i]) || v[i] == ',')) i++;
        if (i == n) break;
        size_t s = i;
        while (i < n && !is_blank(v[i]) && v[i] != ',') i++;
        const char* item = v + s;
        size_t len = i - s;
        const char* colon = static_cast<const char*>(memchr(item, ':', len));
        uint64_t addr, size;
        if (!colon || !parse_number(item, colon - item, &addr) ||
            !parse_number(colon + 1, len - (colon - item) - 1, &size))
            return bad(at, "kho-scratch wants addr:size, got", item, len);
        if (size == 0 || addr + size < addr || (addr & 0xfff) || (size & 0xfff))
            return bad(at, "kho-scratch region empty, wrapping or not page aligned:", item, len);
        if (e->kho_scratch_count == BootEntry::kMaxScratch)
            return bad(at, "too many kho-scratch regions (max 16) at", item, len);
        e->kho_scratch[e->kho_scratch_count++] = {addr, size};
        any = true;
    }
    if (!any) return bad(at, "kho-scratch is empty", v, n);
    return Status::ok();
}

Status append_options(const Where& at, char* dst, const char* v, size_t n) {
    size_t cur = strlen(dst);
    size_t need = cur + (cur ? 1 : 0) + n + 1;
    if (need > BootEntry::kOptionsSize)
        return bad(at, "options longer than 2047 bytes:", v, n);
    if (cur) dst[cur++] = ' ';
    memcpy(dst + cur, v, n);
    dst[cur + n] = '\0';
    return Status::ok();
}

// One key of an entry; shared by entry files and load-option overrides.
Status apply_entry_key(const Where& at, const char* k, size_t kn, const char* v, size_t vn,
                       BootEntry* e, ConfigWarnings* warnings) {
    if (str_eq(k, kn, "title")) {
        if (!copy_str(e->title, sizeof(e->title), v, vn)) return bad(at, "title too long:", v, vn);
    } else if (str_eq(k, kn, "linux")) {
        if (!valid_path(v, vn) || !copy_str(e->linux_path, sizeof(e->linux_path), v, vn))
            return bad(at, "bad linux path", v, vn);
    } else if (str_eq(k, kn, "initrd")) {
        if (e->initrd_count == BootEntry::kMaxInitrds)
            return bad(at, "too many initrd lines (max 8) at", v, vn);
        if (!valid_path(v, vn) ||
            !copy_str(e->initrd[e->initrd_count], BootEntry::kPathSize, v, vn))
            return bad(at, "bad initrd path", v, vn);
        e->initrd_count++;
    } else if (str_eq(k, kn, "options")) {
        return append_options(at, e->options, v, vn);
    } else if (str_eq(k, kn, "kho")) {
        if (str_eq(v, vn, "auto")) e->kho = KhoMode::Auto;
        else if (str_eq(v, vn, "off")) e->kho = KhoMode::Off;
        else if (str_eq(v, vn, "required")) e->kho = KhoMode::Required;
        else return bad(at, "kho must be auto, off or required, not", v, vn);
    } else if (str_eq(k, kn, "kho-on-error")) {
        if (str_eq(v, vn, "cold-boot")) e->kho_on_error = KhoOnError::ColdBoot;
        else if (str_eq(v, vn, "halt")) e->kho_on_error = KhoOnError::Halt;
        else return bad(at, "kho-on-error must be cold-boot or halt, not", v, vn);
    } else if (str_eq(k, kn, "kho-verify")) {
        if (str_eq(v, vn, "auto")) e->kho_verify = KhoVerify::Auto;
        else if (str_eq(v, vn, "off")) e->kho_verify = KhoVerify::Off;
        else if (str_eq(v, vn, "metadata")) e->kho_verify = KhoVerify::Metadata;
        else if (str_eq(v, vn, "full")) e->kho_verify = KhoVerify::Full;
        else return bad(at, "kho-verify must be auto, off, metadata or full, not", v, vn);
    } else if (str_eq(k, kn, "kho-fdt")) {
        uint64_t a;
        if (!parse_number(v, vn, &a) || a == 0 || (a & 0xfff))
            return bad(at, "kho-fdt wants a page-aligned address, got", v, vn);
        e->kho_fdt = a;
    } else if (str_eq(k, kn, "kho-scratch")) {
        return parse_scratch_list(at, v, vn, e);
    } else if (str_eq(k, kn, "uki")) {
        if (!valid_path(v, vn) || !copy_str(e->uki, sizeof(e->uki), v, vn))
            return bad(at, "bad uki path", v, vn);
    } else if (str_eq(k, kn, "version")) {
        if (!copy_str(e->version, sizeof(e->version), v, vn)) return bad(at, "version too long:", v, vn);
    } else if (str_eq(k, kn, "machine-id")) {
        if (!copy_str(e->machine_id, sizeof(e->machine_id), v, vn))
            return bad(at, "machine-id too long:", v, vn);
    } else if (str_eq(k, kn, "sort-key")) {
        if (!copy_str(e->sort_key, sizeof(e->sort_key), v, vn)) return bad(at, "sort-key too long:", v, vn);
    } else if (str_eq(k, kn, "architecture")) {
        // systemd-boot compares with its own EFI machine name ("x64" on
        // x86-64, "aa64" on arm64; BLS "architecture"), case-insensitively:
        // kept lower-cased for the flow to compare (BootProtocol).
        if (vn >= sizeof(e->architecture)) vn = sizeof(e->architecture) - 1;
        for (size_t i = 0; i < vn; ++i) e->architecture[i] = char(v[i] >= 'A' && v[i] <= 'Z' ? v[i] | 0x20 : v[i]);
        e->architecture[vn] = '\0';
    } else if (str_eq(k, kn, "efi")) {
        warn(warnings, at, "key '%s' (an EFI program to chainload) not supported: khoboot boots Linux only", k, kn);
    } else if (str_eq(k, kn, "devicetree") || str_eq(k, kn, "devicetree-overlay")) {
        warn(warnings, at, "key '%s' not supported on x86-64, ignored", k, kn);
    } else {
        warn(warnings, at, "unknown key '%s' ignored", k, kn);
    }
    return Status::ok();
}

// Calls fn(where, key, klen, value, vlen) for each "key value" line.
template <typename Fn>
Status for_each_line(const char* file, const char* text, size_t len, Fn fn) {
    size_t i = 0;
    unsigned line = 0;
    while (i < len) {
        line++;
        size_t s = i;
        while (i < len && text[i] != '\n') i++;
        size_t e = i;
        if (i < len) i++;
        Where at{file, line};
        for (size_t j = s; j < e; j++)
            if (text[j] == '\0')
                return Status::error(Err::BadEntry, "%s:%u: NUL byte in text", file, line);
        while (s < e && is_blank(text[s])) s++;
        while (e > s && is_blank(text[e - 1])) e--;
        if (s == e || text[s] == '#') continue;
        size_t k = s;
        while (k < e && !is_blank(text[k])) k++;
        size_t v = k;
        while (v < e && is_blank(text[v])) v++;
        if (v == e) return bad(at, "key without a value:", text + s, k - s);
        KHO_TRY(fn(at, text + s, k - s, text + v, e - v));
    }
    return Status::ok();
}

// Static scratch regions must not overlap (the handover descriptor
// parser enforces the same for the variable).
Status check_scratch(const char* file, const BootEntry& e) {
    if (e.kho_scratch_count && !e.kho_fdt)
        return Status::error(Err::BadEntry, "%s: kho-scratch without kho-fdt", file);
    for (size_t i = 0; i < e.kho_scratch_count; i++)
        for (size_t j = i + 1; j < e.kho_scratch_count; j++) {
            const abi::KhoScratch& a = e.kho_scratch[i];
            const abi::KhoScratch& b = e.kho_scratch[j];
            if (a.addr < b.addr + b.size && b.addr < a.addr + a.size)
                return Status::error(Err::BadEntry, "%s: kho-scratch 0x%llx+0x%llx overlaps 0x%llx+0x%llx",
                                     file, (unsigned long long)a.addr, (unsigned long long)a.size,
                                     (unsigned long long)b.addr, (unsigned long long)b.size);
        }
    return Status::ok();
}

// loader.conf keys of systemd-boot 252 (loader.conf(5)) that steer its
// menu, console, firmware and Secure Boot handling, none of which khoboot
// has: each gets one warning.
bool systemd_boot_only_key(const char* k, size_t kn) {
    static constexpr const char* kKeys[] = {"console-mode", "editor", "auto-entries", "auto-firmware",
                                            "beep", "random-seed-mode", "secure-boot-enroll",
                                            "reboot-for-bitlocker"};
    for (const char* key : kKeys)
        if (str_eq(k, kn, key)) return true;
    return false;
}

// `timeout`: seconds (a trailing "s" allowed), or menu-force, menu-hidden,
// menu-disabled. systemd-boot caps its timeout at what fits a 32-bit
// value; khoboot at an hour, past which a lab machine looks hung.
Status parse_timeout(const Where& at, const char* v, size_t vn, LoaderConf* out) {
    out->timeout_seconds = 0;
    if (str_eq(v, vn, "menu-force")) out->timeout_mode = TimeoutMode::MenuForce;
    else if (str_eq(v, vn, "menu-hidden")) out->timeout_mode = TimeoutMode::MenuHidden;
    else if (str_eq(v, vn, "menu-disabled")) out->timeout_mode = TimeoutMode::MenuDisabled;
    else {
        uint64_t t;
        size_t digits = vn > 1 && v[vn - 1] == 's' ? vn - 1 : vn;
        bool decimal = digits > 0;
        for (size_t i = 0; i < digits; i++) decimal = decimal && v[i] >= '0' && v[i] <= '9';
        if (!decimal || !parse_number(v, digits, &t) || t > 3600)
            return bad(at, "timeout must be 0..3600 seconds, menu-force, menu-hidden or menu-disabled, not", v, vn);
        out->timeout_mode = TimeoutMode::Seconds;
        out->timeout_seconds = static_cast<uint32_t>(t);
    }
    return Status::ok();
}

}  // namespace

const char* timeout_mode_name(TimeoutMode m) {
    switch (m) {
    case TimeoutMode::Seconds: return "seconds";
    case TimeoutMode::MenuForce: return "menu-force";
    case TimeoutMode::MenuHidden: return "menu-hidden";
    case TimeoutMode::MenuDisabled: return "menu-disabled";
    }
    return "?";
}

const char* kho_mode_name(KhoMode m) {
    switch (m) {
    case KhoMode::Auto: return "auto";
    case KhoMode::Off: return "off";
    case KhoMode::Required: return "required";
    }
    return "?";
}

const char* kho_on_error_name(KhoOnError p) {
    return p == KhoOnError::Halt ? "halt" : "cold-boot";
}

const char* kho_verify_name(KhoVerify v) {
    switch (v) {
    case KhoVerify::Auto: return "auto";
    case KhoVerify::Off: return "off";
    case KhoVerify::Metadata: return "metadata";
    case KhoVerify::Full: return "full";
    }
    return "?";
}

void init_boot_entry(BootEntry* entry, const char* id) {
    memset(entry, 0, sizeof(*entry));
    size_t n = strlen(id);
    if (n >= sizeof(entry->id)) n = sizeof(entry->id) - 1;
    memcpy(entry->id, id, n);
    entry->kho = KhoMode::Auto;
    entry->kho_on_error = KhoOnError::ColdBoot;
    entry->kho_verify = KhoVerify::Auto;
}

Status parse_loader_conf(const char* file, const char* text, size_t len, LoaderConf* out,
                         ConfigWarnings* warnings) {
    memset(out, 0, sizeof(*out));
    return for_each_line(file, text, len,
                         [&](const Where& at, const char* k, size_t kn, const char* v, size_t vn) {
        if (str_eq(k, kn, "default")) {
            out->default_saved = str_eq(v, vn, "@saved");
            if (out->default_saved) out->default_pattern[0] = '\0';
            else if (!copy_str(out->default_pattern, sizeof(out->default_pattern), v, vn))
                return bad(at, "default too long:", v, vn);
        } else if (str_eq(k, kn, "timeout")) {
            return parse_timeout(at, v, vn, out);
        } else if (str_eq(k, kn, "khoboot-uart")) {
            if (out->uart.kind != UartKind::None) return bad(at, "khoboot-uart given twice:", v, vn);
            Status s = parse_uart_spec(v, vn, &out->uart);
            if (!s) return bad(at, s.message(), v, vn);
        } else if (str_eq(k, kn, "khoboot-probe")) {
            Status s = parse_probe_mode(v, vn, &out->probe);
            if (!s) return bad(at, s.message(), v, vn);
        } else if (systemd_boot_only_key(k, kn)) {
            warn(warnings, at, "systemd-boot key '%s' not acted on by khoboot, ignored", k, kn);
        } else {
            warn(warnings, at, "unknown key '%s' ignored", k, kn);
        }
        return Status::ok();
    });
}

Status parse_boot_entry(const char* file, const char* text, size_t len, BootEntry* out,
                        ConfigWarnings* warnings) {
    KHO_TRY(for_each_line(file, text, len,
                          [&](const Where& at, const char* k, size_t kn, const char* v, size_t vn) {
        return apply_entry_key(at, k, kn, v, vn, out, warnings);
    }));
    if (out->linux_path[0] == '\0' && out->uki[0] == '\0')
        return Status::error(Err::BadEntry, "%s: no 'linux' line", file);
    return check_scratch(file, *out);
}

Status parse_load_options(const char* text, size_t len, LoadOptions* out) {
    memset(out, 0, sizeof(*out));
    size_t i = 0;
    bool first = true;
    Where at{"load-options", 1};
    while (i < len && text[i]) {
        while (i < len && text[i] && is_blank(text[i])) i++;
        if (i == len || !text[i]) break;
        size_t s = i;
        while (i < len && text[i] && !is_blank(text[i]) && text[i] != '=') i++;
        size_t kend = i;
        if (i < len && text[i] == '=') {
            i++;
            size_t vs = i, ve;
            if (i < len && text[i] == '"') {
                vs = ++i;
                while (i < len && text[i] && text[i] != '"') i++;
                if (i == len || text[i] != '"')
                    return bad(at, "unterminated quote after", text + s, kend - s);
                ve = i++;
            } else {
                while (i < len && text[i] && !is_blank(text[i])) i++;
                ve = i;
            }
            if (out->override_count == LoadOptions::kMaxOverrides)
                return bad(at, "more than 16 overrides at", text + s, kend - s);
            LoadOptions::Override& o = out->overrides[out->override_count++];
            if (kend == s || !copy_str(o.key, sizeof(o.key), text + s, kend - s))
                return bad(at, "bad key", text + s, kend - s);
            if (!copy_str(o.value, sizeof(o.value), text + vs, ve - vs))
                return bad(at, "value too long for", text + s, kend - s);
        } else {
            size_t n = kend - s;
            bool efi_path = n > 4 && (memcmp(text + kend - 4, ".efi", 4) == 0 ||
                                      memcmp(text + kend - 4, ".EFI", 4) == 0);
            if (!(first && efi_path)) {
                if (out->entry_id[0])
                    return bad(at, "more than one entry named:", text + s, n);
                if (n > 5 && memcmp(text + kend - 5, ".conf", 5) == 0) n -= 5;
                if (!copy_str(out->entry_id, sizeof(out->entry_id), text + s, n))
                    return bad(at, "entry name too long:", text + s, kend - s);
            }
        }
        first = false;
    }
    return Status::ok();
}

Status apply_load_options(const LoadOptions& options, BootEntry* entry, ConfigWarnings* warnings) {
    Where at{"load-options", 1};
    bool cleared_initrd = false, cleared_scratch = false, cleared_options = false;
    for (size_t i = 0; i < options.override_count; i++) {
        const LoadOptions::Override& o = options.overrides[i];
        size_t kn = strlen(o.key);
        if (str_eq(o.key, kn, "initrd") && !cleared_initrd) {
            entry->initrd_count = 0;
            cleared_initrd = true;
        } else if (str_eq(o.key, kn, "kho-scratch") && !cleared_scratch) {
            entry->kho_scratch_count = 0;
            cleared_scratch = true;
        } else if (str_eq(o.key, kn, "options") && !cleared_options) {
            entry->options[0] = '\0';
            cleared_options = true;
        }
        KHO_TRY(apply_entry_key(at, o.key, kn, o.value, strlen(o.value), entry, warnings));
    }
    return check_scratch("load-options", *entry);
}

bool load_options_to_ascii(const uint16_t* ucs2, size_t bytes, char* out, size_t out_size) {
    if (out_size == 0) return false;
    out[0] = '\0';
    if (!ucs2 || bytes < 2) return true;
    if (bytes & 1) return false;
    size_t n = bytes / 2, k = 0;
    for (size_t i = 0; i < n; i++) {
        uint16_t c = ucs2[i];
        if (c == 0) break;
        if (c == '\t' || c == '\n' || c == '\r') c = ' ';
        if (c < 0x20 || c > 0x7e) return false;
        if (k + 1 >= out_size) return false;
        out[k++] = static_cast<char>(c);
    }
    out[k] = '\0';
    return true;
}

KhoAction decide_kho_action(KhoMode mode, KhoOnError on_error, bool found, bool usable) {
    switch (mode) {
    case KhoMode::Off:
        return KhoAction::ColdBoot;
    case KhoMode::Required:
        // "never boot without it": kho-on-error cannot soften this.
        return found && usable ? KhoAction::Handover : KhoAction::Halt;
    case KhoMode::Auto:
        break;
    }
    if (!found) return KhoAction::ColdBoot;
    if (usable) return KhoAction::Handover;
    return on_error == KhoOnError::Halt ? KhoAction::Halt : KhoAction::ColdBoot;
}

const char* kho_action_name(KhoAction a) {
    switch (a) {
    case KhoAction::Handover: return "handover";
    case KhoAction::ColdBoot: return "cold-boot";
    case KhoAction::Halt: return "halt";
    }
    return "?";
}

bool menu_choice(uint16_t key, size_t count, size_t* index) {
    if (key < '1' || key > '9') return false;
    size_t i = key - '1';
    if (i >= count) return false;
    *index = i;
    return true;
}

bool glob_match(const char* p, const char* t) {
    // Iterative matcher with one backtrack point: linear in practice, no
    // recursion depth to exhaust on hostile patterns.
    const char* star = nullptr;
    const char* resume = nullptr;
    while (*t) {
        if (*p == '*') {
            star = p++;
            resume = t;
        } else if (*p == '?' || *p == *t) {
            p++;
            t++;
        } else if (star) {
            p = star + 1;
            t = ++resume;
        } else {
            return false;
        }
    }
    while (*p == '*') p++;
    return *p == '\0';
}

Status select_entry(const LoaderConf& conf, const char* const* ids, size_t count,
                    const char* requested, size_t* index) {
    if (count == 0) return Status::error(Err::BadEntry, "no boot entries in /loader/entries");
    if (requested && requested[0]) {
        for (size_t i = 0; i < count; i++)
            if (strcmp(ids[i], requested) == 0) {
                *index = i;
                return Status::ok();
            }
        return Status::error(Err::BadEntry, "load-options: no entry named '%s'", requested);
    }
    if (conf.default_pattern[0]) {
        char with_ext[BootEntry::kIdSize + 8];
        for (size_t i = 0; i < count; i++) {
            format(with_ext, sizeof(with_ext), "%s.conf", ids[i]);
            if (glob_match(conf.default_pattern, ids[i]) ||
                glob_match(conf.default_pattern, with_ext)) {
                *index = i;
                return Status::ok();
            }
        }
    }
    *index = 0;
    return Status::ok();
}

}  // namespace kho
