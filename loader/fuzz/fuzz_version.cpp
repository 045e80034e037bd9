// systemd's version order (loader/version_compare.h) and the menu order
// built on it (loader/entry_list.h) on arbitrary strings: every compare
// ends, is antisymmetric, and a string equals itself.
#include <string.h>

#include "loader/entry_list.h"
#include "loader/version_compare.h"

namespace {
int sign(int v) { return (v > 0) - (v < 0); }
char g_a[512], g_b[512];
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // Two strings separated by the first NUL (the second may be empty).
    const uint8_t* nul = static_cast<const uint8_t*>(memchr(data, 0, size));
    size_t an = nul ? size_t(nul - data) : size;
    size_t bn = nul ? size - an - 1 : 0;
    if (an >= sizeof(g_a) || bn >= sizeof(g_b)) return 0;
    memcpy(g_a, data, an);
    g_a[an] = '\0';
    if (bn) memcpy(g_b, nul + 1, bn);
    g_b[bn] = '\0';
    if (sign(kho::version_compare(g_a, g_b)) != -sign(kho::version_compare(g_b, g_a))) __builtin_trap();
    if (kho::version_compare(g_a, g_a) != 0) __builtin_trap();
    kho::MenuEntry x, y;
    x.id = g_a;
    y.id = g_b;
    x.sort_key = an & 1 ? g_b : nullptr;
    x.version = g_b;
    y.version = g_a;
    if (sign(kho::bls_compare(x, y)) != -sign(kho::bls_compare(y, x))) __builtin_trap();
    return 0;
}
