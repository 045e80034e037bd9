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

// One tk.KEY=VALUE word's value. `given` is false when the word has no
// '=': every handler then fails (text options still store the empty value).
struct Value {
    const char* s;
    size_t n;
    bool given;
};

// Each handler stores what it parsed and says whether the value is valid.
bool set_plan(Value v, Options* o) {
    bool ok = v.given && parse_plan(v.s, v.n, o);
    copy(o->plan_text, sizeof(o->plan_text), v.s, v.n);
    return ok;
}

bool set_compat(Value v, Options* o) {
    copy(o->expect_compat, sizeof(o->expect_compat), v.s, v.n);
    return v.given;
}

bool set_boot(Value v, Options* o) {
    bool ok = v.given && (starts_with(v.s, v.n, "efi") || starts_with(v.s, v.n, "bios"));
    o->efi_boot = starts_with(v.s, v.n, "efi");
    return ok;
}

bool set_format(Value v, Options* o) {
    copy(o->produce_format, sizeof(o->produce_format), v.s, v.n);
    return v.given;
}

// v parsed as a number in [lo, hi] (into *num, 0 if unparsable).
bool number_in(Value v, uint64_t lo, uint64_t hi, uint64_t* num) {
    return v.given && parse_u64(v.s, v.n, num) && *num >= lo && *num <= hi;
}

bool set_blocks(Value v, Options* o) {
    uint64_t num = 0;
    bool ok = number_in(v, 1, 65536, &num);
    o->blocks = uint32_t(num);
    return ok;
}

bool set_max_order(Value v, Options* o) {
    uint64_t num = 0;
    bool ok = number_in(v, 0, 30, &num);
    o->max_order = uint32_t(num);
    return ok;
}

bool set_full_order(Value v, Options* o) {
    uint64_t num = 0;
    bool ok = number_in(v, 0, 30, &num);
    o->full_order = uint32_t(num);
    return ok;
}

bool set_free(Value v, Options* o) {
    uint64_t num = 0;
    bool ok = number_in(v, 0, 65536, &num);
    o->free_count = int32_t(num);
    return ok;
}

bool set_seed(Value v, Options* o) { return v.given && parse_u64(v.s, v.n, &o->seed); }

bool set_scratch_mb(Value v, Options* o) {
    uint64_t num = 0;
    bool ok = number_in(v, 2, 4096, &num) && num % 2 == 0;
    o->scratch_bytes = num << 20;
    return ok;
}

bool set_arena(Value v, Options* o) { return v.given && parse_arenas(v.s, v.n, o); }

// SIZE:CRC of the initrd the loader should have handed over.
bool set_initrd(Value v, Options* o) {
    size_t colon = 0;
    while (colon < v.n && v.s[colon] != ':') ++colon;
    uint64_t want_crc = 0;
    bool ok = v.given && colon < v.n && parse_u64(v.s, colon, &o->initrd_size) &&
              parse_u64(v.s + colon + 1, v.n - colon - 1, &want_crc) && want_crc <= 0xffffffffu;
    o->initrd_crc = uint32_t(want_crc);
    o->has_initrd = ok;
    return ok;
}

bool set_foreign(Value v, Options* o) {
    bool ok = v.given && v.n == 1 && (v.s[0] == '0' || v.s[0] == '1');
    o->foreign = ok && v.s[0] == '1';
    return ok;
}

bool set_sum(Value v, Options* o) {
    uint64_t num = 0;
    bool ok = number_in(v, 0, 0xffffffffu, &num);
    o->has_sum = ok;
    o->sum = uint32_t(num);
    return ok;
}

// A word's key (its bit in the duplicate check; 0 = unknown, never a
// duplicate) and whether its value was valid.
struct Applied {
    unsigned key;
    bool ok;
};

// Stores one tk.* word's value. An if-chain rather than a table of names
// and handlers: test_kernel has no relocator, so initialised data may not
// hold pointers (kernel.ld). Names end in '=' so none prefixes another.
Applied apply_word(const char* w, size_t n, Value v, Options* o) {
    if (starts_with(w, n, "tk.sum=")) return {1, set_sum(v, o)};
    if (starts_with(w, n, "tk.plan=")) return {2, set_plan(v, o)};
    if (starts_with(w, n, "tk.compat=")) return {3, set_compat(v, o)};
    if (starts_with(w, n, "tk.boot=")) return {4, set_boot(v, o)};
    if (starts_with(w, n, "tk.format=")) return {5, set_format(v, o)};
    if (starts_with(w, n, "tk.blocks=")) return {6, set_blocks(v, o)};
    if (starts_with(w, n, "tk.max-order=")) return {7, set_max_order(v, o)};
    if (starts_with(w, n, "tk.full-order=")) return {8, set_full_order(v, o)};
    if (starts_with(w, n, "tk.free=")) return {9, set_free(v, o)};
    if (starts_with(w, n, "tk.seed=")) return {10, set_seed(v, o)};
    if (starts_with(w, n, "tk.scratch-mb=")) return {11, set_scratch_mb(v, o)};
    if (starts_with(w, n, "tk.arena=")) return {12, set_arena(v, o)};
    if (starts_with(w, n, "tk.initrd=")) return {13, set_initrd(v, o)};
    if (starts_with(w, n, "tk.foreign=")) return {14, set_foreign(v, o)};
    return {0, false};
}

void set_defaults(Options* o) {
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
}

// Walks the tk.* words of a command line and keeps the CRC-32 of all of
// them but tk.sum, joined by ' ', as tk.sum covers it.
struct WordParser {
    Options* o;
    uint32_t crc = 0;
    bool first_tk = true;
    uint32_t seen = 0;  // bit per known key

    void add_to_sum(const char* w, size_t n) {
        if (!first_tk) crc = kho::crc32(" ", 1, crc);
        crc = kho::crc32(w, n, crc);
        first_tk = false;
    }

    void word(const char* w, size_t n) {
        const char* eq = w;
        while (eq < w + n && *eq != '=') ++eq;
        Value v{eq + 1, eq < w + n ? size_t(w + n - eq - 1) : 0, eq < w + n};
        Applied a = apply_word(w, n, v, o);
        if (a.key != 1) add_to_sum(w, n);
        if (a.key && (seen & (1u << a.key))) o->duplicate_key = true;
        seen |= 1u << a.key;
        if (!a.ok && !o->error[0]) copy(o->error, sizeof(o->error), w, n);
    }
};

// A producer builds on its own manifest of the state it consumed; a
// foreign state has none, so producing after one cannot be checked.
void check_foreign_plan(Options* o) {
    for (size_t i = 0; o->foreign && i < o->hop_count; ++i)
        if ((o->hops[i].produce || o->hops[i].multikernel) && !o->error[0])
            copy(o->error, sizeof(o->error), "tk.foreign=1 (only c and n hops)", 32);
}

}  // namespace

void parse_options(const char* cmdline, Options* o) {
    set_defaults(o);
    WordParser words{o};
    for (const char* p = cmdline; *p;) {
        while (*p == ' ') ++p;
        const char* w = p;
        while (*p && *p != ' ') ++p;
        size_t n = size_t(p - w);
        if (n && starts_with(w, n, "tk.")) words.word(w, n);
    }
    o->sum_computed = words.crc;
    check_foreign_plan(o);
}

}  // namespace tk
