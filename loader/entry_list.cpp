// The boot menu's entries (entry_list.h).
#include "entry_list.h"

#include <string.h>

#include "format.h"
#include "version_compare.h"

namespace kho {

namespace {

constexpr size_t kChunk = 16 * 1024;

int sign(int v) { return (v > 0) - (v < 0); }

// strcmp with null as the smallest, as systemd's strcmp_ptr.
int compare_text(const char* a, const char* b) {
    if (!a || !b) return a == b ? 0 : (a ? 1 : -1);
    return sign(strcmp(a, b));
}

bool shared_title(const MenuEntry* e, size_t count, size_t i) {
    for (size_t j = 0; j < count; j++)
        if (j != i && strcmp(e[i].title_show, e[j].title_show) == 0) return true;
    return false;
}

// One round of systemd-boot's disambiguation: the entries whose titles
// are shared get " (<field>)", at most `limit` characters of it. False
// when no title was shared (nothing left to do).
template <typename Field>
Status disambiguate(MenuEntry* e, size_t count, TextArena& arena, Field field, size_t limit, bool* any) {
    *any = false;
    bool* shared = nullptr;
    KHO_TRY(arena.reserve(count ? count : 1, reinterpret_cast<void**>(&shared)));
    for (size_t i = 0; i < count; i++) shared[i] = shared_title(e, count, i);
    for (size_t i = 0; i < count; i++) {
        const char* f = field(e[i]);
        if (!shared[i]) continue;
        *any = true;
        if (!f) continue;
        size_t fn = strlen(f) < limit ? strlen(f) : limit;
        size_t tn = strlen(e[i].title_show);
        char* t = nullptr;
        KHO_TRY(arena.reserve(tn + fn + 4, reinterpret_cast<void**>(&t)));
        memcpy(t, e[i].title_show, tn);
        memcpy(t + tn, " (", 2);
        memcpy(t + tn + 2, f, fn);
        memcpy(t + tn + 2 + fn, ")", 2);
        e[i].title_show = t;
    }
    return Status::ok();
}

}  // namespace

Status TextArena::reserve(size_t bytes, void** out) {
    size_t need = (bytes + 7) & ~size_t(7);
    if (!chunk_ || size_ - used_ < need) {
        size_t size = need > kChunk ? need : kChunk;
        void* p = nullptr;
        KHO_TRY(fw_.allocate_pool(size, &p));
        chunk_ = static_cast<char*>(p);
        used_ = 0;
        size_ = size;
    }
    *out = chunk_ + used_;
    used_ += need;
    return Status::ok();
}

Status TextArena::copy(const char* s, size_t n, const char** out) {
    void* p = nullptr;
    KHO_TRY(reserve(n + 1, &p));
    memcpy(p, s, n);
    static_cast<char*>(p)[n] = '\0';
    *out = static_cast<const char*>(p);
    return Status::ok();
}

int bls_compare(const MenuEntry& a, const MenuEntry& b) {
    // "If there's a sort key for both, new-style ordering; if for one,
    // that one first" (systemd-boot 252, config_entry_compare).
    bool ka = a.sort_key != nullptr, kb = b.sort_key != nullptr;
    if (ka != kb) return ka ? -1 : 1;
    if (ka) {
        if (int r = compare_text(a.sort_key, b.sort_key)) return r;
        if (int r = compare_text(a.machine_id, b.machine_id)) return r;
        if (int r = version_compare(a.version, b.version)) return -r;  // newest first
    }
    return -version_compare(a.id, b.id);
}

void bls_sort(MenuEntry* e, size_t count) {
    for (size_t i = 1; i < count; i++) {
        MenuEntry x = e[i];
        size_t j = i;
        for (; j > 0 && bls_compare(e[j - 1], x) > 0; j--) e[j] = e[j - 1];
        e[j] = x;
    }
}

Status make_titles(MenuEntry* e, size_t count, TextArena& arena) {
    for (size_t i = 0; i < count; i++) e[i].title_show = e[i].title && e[i].title[0] ? e[i].title : e[i].id;
    bool any = false;
    KHO_TRY(disambiguate(e, count, arena, [](const MenuEntry& m) { return m.version; }, size_t(-1), &any));
    if (!any) return Status::ok();
    KHO_TRY(disambiguate(e, count, arena, [](const MenuEntry& m) { return m.machine_id; }, 8, &any));
    if (!any) return Status::ok();
    return disambiguate(e, count, arena, [](const MenuEntry& m) { return m.id; }, size_t(-1), &any);
}

}  // namespace kho
