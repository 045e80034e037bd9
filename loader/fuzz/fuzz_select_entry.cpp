// Choosing the entry to boot (efi/main.cpp read_config()): loader.conf's
// `default` glob, the entry ids the ESP lists and the entry the load
// options name, through parse_loader_conf(), select_entry(), glob_match()
// and menu_choice(). glob_match() is compared with a dynamic-programming
// matcher written here; select_entry() with the rule its header states.
//
// Input: u16 menu key, u8 id count (at most 64: the fuzzer's bound; the loader has none), then
// NUL-separated fields: loader.conf text, the requested entry id, and the
// ids (each cut to 63 characters, as esp_list_conf() returns them).
#include <string.h>

#include <vector>

#include "fuzz_mem.h"
#include "loader/boot_entry.h"

namespace {

using namespace kho;

#define CHECK(cond) \
    do {            \
        if (!(cond)) __builtin_trap(); \
    } while (0)

class Quiet : public ConfigWarnings {
public:
    void warn(const char*, unsigned, const char*) override {}
};

// '*' any run, '?' any one character, anything else itself.
bool ref_glob(const char* p, const char* t) {
    size_t np = strlen(p), nt = strlen(t);
    std::vector<char> prev(nt + 1), cur(nt + 1);
    prev[0] = 1;  // empty pattern matches empty text
    for (size_t i = 1; i <= np; i++) {
        cur.assign(nt + 1, 0);
        cur[0] = p[i - 1] == '*' && prev[0];
        for (size_t j = 1; j <= nt; j++) {
            if (p[i - 1] == '*') cur[j] = prev[j] || cur[j - 1];
            else cur[j] = prev[j - 1] && (p[i - 1] == '?' || p[i - 1] == t[j - 1]);
        }
        prev.swap(cur);
    }
    return prev[nt];
}

// The next NUL-terminated field of the input, at most `cap - 1` bytes.
void field(kho::fuzz::Reader& in, char* out, size_t cap) {
    size_t n = 0;
    while (in.left()) {
        char c = static_cast<char>(in.take<uint8_t>());
        if (!c) break;
        if (n + 1 < cap) out[n++] = c;
    }
    out[n] = '\0';
}

constexpr size_t kMaxEntries = 64;  // this target's bound (entry_list.h has no cap)
char g_ids[kMaxEntries][64];
char g_text[4096];

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    kho::fuzz::Reader in(data, size);
    const uint16_t key = in.take<uint16_t>();
    const size_t count = in.take<uint8_t>() % (kMaxEntries + 1);
    field(in, g_text, sizeof(g_text));
    char requested[BootEntry::kIdSize];
    field(in, requested, sizeof(requested));
    const char* ids[kMaxEntries];
    for (size_t i = 0; i < count; i++) {
        field(in, g_ids[i], sizeof(g_ids[i]));
        ids[i] = g_ids[i];
    }

    size_t idx = 0;
    if (menu_choice(key, count, &idx)) CHECK(key >= '1' && key <= '9' && idx == size_t(key - '1') && idx < count);

    Quiet quiet;
    LoaderConf conf;
    memset(&conf, 0, sizeof(conf));
    if (!parse_loader_conf("loader.conf", g_text, strlen(g_text), &conf, &quiet)) return 0;
    CHECK(strnlen(conf.default_pattern, sizeof(conf.default_pattern)) < sizeof(conf.default_pattern));

    char with_ext[BootEntry::kIdSize + 8];
    long want = -1;
    for (size_t i = 0; i < count; i++) {
        strcpy(with_ext, ids[i]);
        strcat(with_ext, ".conf");
        bool a = glob_match(conf.default_pattern, ids[i]), b = glob_match(conf.default_pattern, with_ext);
        CHECK(a == ref_glob(conf.default_pattern, ids[i]) && b == ref_glob(conf.default_pattern, with_ext));
        if (want < 0 && (a || b)) want = long(i);
    }
    CHECK(glob_match(requested, conf.default_pattern) == ref_glob(requested, conf.default_pattern));

    Status s = select_entry(conf, ids, count, requested, &idx);
    if (count == 0) {
        CHECK(!s);
        return 0;
    }
    if (requested[0]) {
        long exact = -1;
        for (size_t i = 0; i < count && exact < 0; i++)
            if (strcmp(ids[i], requested) == 0) exact = long(i);
        CHECK(exact < 0 ? !s : (s && idx == size_t(exact)));
        return 0;
    }
    CHECK(s && idx < count);
    CHECK(idx == (conf.default_pattern[0] && want >= 0 ? size_t(want) : 0));
    return 0;
}
