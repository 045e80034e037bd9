#include "options.h"

#include "../loader/crc32.h"
#include "../loader/format.h"

namespace tk {
namespace {

bool starts_with(const char* s, size_t n, const char* prefix) {
    size_t i = 0;
    for (; prefix[i]; ++i)
        if (i >= n || s[i] != prefix[i]) return false;
    return true;
}

bool parse_u64(const char* s, size_t n, uint64_t* out) {
    if (n == 0) return false;
    uint64_t v = 0;
    unsigned base = 10;
    size_t i = 0;
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        i = 2;
    }
    for (; i < n; ++i) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9') d = unsigned(c - '0');
        else if (base == 16 && c >= 'a' && c <= 'f') d = unsigned(c - 'a' + 10);
        else if (base == 16 && c >= 'A' && c <= 'F') d = unsigned(c - 'A' + 10);
        else return false;
        v = v * base + d;
    }
    *out = v;
    return true;
}

void copy(char* dst, size_t cap, const char* s, size_t n) {
    if (n >= cap) n = cap - 1;
    for (size_t i = 0; i < n; ++i) dst[i] = s[i];
    dst[n] = 0;
}

bool parse_plan(const char* v, size_t n, Options* o) {
    o->hop_count = 0;
    size_t i = 0;
    while (i <= n) {
        if (o->hop_count == Options::kMaxHops) return false;
        HopAction a{};
        size_t letters = 0;
        for (; i < n && v[i] != ','; ++i, ++letters) {
            switch (v[i]) {
            case 'n': a.expect_cold = true; break;
            case 'c': a.consume = true; break;
            case 'm': a.multikernel = true; break;
            case 'p': a.produce = true; break;
            case 'P': a.produce = a.power_off = true; break;
            default: return false;
            }
        }
        if (!letters || (a.expect_cold + a.consume + a.multikernel) > 1) return false;
        o->hops[o->hop_count++] = a;
        ++i;  // skip ','
    }
    return o->hop_count > 0;
}

bool parse_arenas(const char* v, size_t n, Options* o) {
    o->arena_count = 0;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && v[j] != ',') ++j;
        size_t dash = i;
        while (dash < j && v[dash] != '-') ++dash;
        uint64_t s, e;
        if (dash == j || !parse_u64(v + i, dash - i, &s) || !parse_u64(v + dash + 1, j - dash - 1, &e) ||
            e <= s || o->arena_count == Options::kMaxArenas)
            return false;
        o->arenas[o->arena_count++] = PhysRange{s, e};
        i = j + 1;
    }
    return o->arena_count > 0;
}

}  // namespace

void parse_options(const char* cmdline, Options* o) {
    *o = Options{};
    copy(o->plan_text, sizeof(o->plan_text), "c", 1);
    parse_plan("c", 1, o);
    copy(o->expect_compat, sizeof(o->expect_compat), "kho-v4", 6);
    o->efi_boot = true;
    copy(o->produce_format, sizeof(o->produce_format), "kho-v4", 6);
    o->blocks = 48;
    o->max_order = 10;
    o->full_order = 8;
    o->free_count = -1;
    o->seed = 1;
    o->scratch_bytes = 64ull << 20;
    // Defaults keep clear of what OVMF writes while it boots (measured with
    // -m 3G up to the UEFI shell: 0x806000-0x16e1000, 0x1700000-0x1704000,
    // 0x7bb8d000-0x7bb9d000 and 0x7e17f000-0x7f000000; README.md), with a
    // margin below the firmware's top-down allocations.
    o->arena_count = 2;
    o->arenas[0] = PhysRange{0x10000000, 0x70000000};
    o->arenas[1] = PhysRange{0x100000000, 0x1000000000};

    uint32_t crc = 0;
    bool first_tk = true;
    uint32_t seen = 0;  // bit per known key
    for (const char* p = cmdline; *p;) {
        while (*p == ' ') ++p;
        const char* w = p;
        while (*p && *p != ' ') ++p;
        size_t n = size_t(p - w);
        if (n == 0 || !starts_with(w, n, "tk.")) continue;
        const char* eq = w;
        while (eq < p && *eq != '=') ++eq;
        const char* v = eq + 1;
        size_t vn = eq < p ? size_t(p - v) : 0;
        bool ok = eq < p;
        unsigned key = 0;
        uint64_t num = 0;
        if (starts_with(w, n, "tk.sum=")) {
            key = 1;
            ok = ok && parse_u64(v, vn, &num) && num <= 0xffffffffu;
            o->has_sum = ok;
            o->sum = uint32_t(num);
        } else {
            // every tk.* word but tk.sum is covered by the sum
            if (!first_tk) crc = kho::crc32(" ", 1, crc);
            crc = kho::crc32(w, n, crc);
            first_tk = false;
            if (starts_with(w, n, "tk.plan=")) {
                key = 2;
                ok = ok && parse_plan(v, vn, o);
                copy(o->plan_text, sizeof(o->plan_text), v, vn);
            } else if (starts_with(w, n, "tk.compat=")) {
                key = 3;
                copy(o->expect_compat, sizeof(o->expect_compat), v, vn);
            } else if (starts_with(w, n, "tk.boot=")) {
                key = 4;
                ok = ok && (starts_with(v, vn, "efi") || starts_with(v, vn, "bios"));
                o->efi_boot = starts_with(v, vn, "efi");
            } else if (starts_with(w, n, "tk.format=")) {
                key = 5;
                copy(o->produce_format, sizeof(o->produce_format), v, vn);
            } else if (starts_with(w, n, "tk.blocks=")) {
                key = 6;
                ok = ok && parse_u64(v, vn, &num) && num >= 1 && num <= 65536;
                o->blocks = uint32_t(num);
            } else if (starts_with(w, n, "tk.max-order=")) {
                key = 7;
                ok = ok && parse_u64(v, vn, &num) && num <= 30;
                o->max_order = uint32_t(num);
            } else if (starts_with(w, n, "tk.full-order=")) {
                key = 8;
                ok = ok && parse_u64(v, vn, &num) && num <= 30;
                o->full_order = uint32_t(num);
            } else if (starts_with(w, n, "tk.free=")) {
                key = 9;
                ok = ok && parse_u64(v, vn, &num) && num <= 65536;
                o->free_count = int32_t(num);
            } else if (starts_with(w, n, "tk.seed=")) {
                key = 10;
                ok = ok && parse_u64(v, vn, &o->seed);
            } else if (starts_with(w, n, "tk.scratch-mb=")) {
                key = 11;
                ok = ok && parse_u64(v, vn, &num) && num >= 2 && num <= 4096 && num % 2 == 0;
                o->scratch_bytes = num << 20;
            } else if (starts_with(w, n, "tk.arena=")) {
                key = 12;
                ok = ok && parse_arenas(v, vn, o);
            } else if (starts_with(w, n, "tk.initrd=")) {
                key = 13;
                size_t colon = 0;
                while (colon < vn && v[colon] != ':') ++colon;
                uint64_t want_crc = 0;
                ok = ok && colon < vn && parse_u64(v, colon, &o->initrd_size) &&
                     parse_u64(v + colon + 1, vn - colon - 1, &want_crc) && want_crc <= 0xffffffffu;
                o->initrd_crc = uint32_t(want_crc);
                o->has_initrd = ok;
            } else if (starts_with(w, n, "tk.foreign=")) {
                key = 14;
                ok = ok && vn == 1 && (v[0] == '0' || v[0] == '1');
                o->foreign = ok && v[0] == '1';
            } else {
                ok = false;
            }
        }
        if (key && (seen & (1u << key))) o->duplicate_key = true;
        seen |= 1u << key;
        if (!ok && !o->error[0]) copy(o->error, sizeof(o->error), w, n);
    }
    o->sum_computed = crc;
    // A producer builds on its own manifest of the state it consumed; a
    // foreign state has none, so producing after one cannot be checked.
    for (size_t i = 0; o->foreign && i < o->hop_count; ++i)
        if ((o->hops[i].produce || o->hops[i].multikernel) && !o->error[0])
            copy(o->error, sizeof(o->error), "tk.foreign=1 (only c and n hops)", 32);
}

}  // namespace tk
