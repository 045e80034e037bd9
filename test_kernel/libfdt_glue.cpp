#include "libfdt_glue.h"

#include <stddef.h>
#include <stdint.h>

#include "report.h"

namespace tk {
namespace {

constexpr uint32_t kMsrFsBase = 0xc0000100;  // IA32_FS_BASE (Intel SDM vol. 4, table 2-2)
constexpr size_t kCanaryOffset = 0x28;       // glibc tcbhead_t.stack_guard on x86-64

alignas(64) uint64_t g_fs_block[8];

}  // namespace

void libfdt_glue_init() {
    g_fs_block[kCanaryOffset / 8] = 0x2f8a1c5e6b3d9047ull;
    uint64_t base = reinterpret_cast<uint64_t>(g_fs_block);
    asm volatile("wrmsr" : : "c"(kMsrFsBase), "a"(uint32_t(base)), "d"(uint32_t(base >> 32)) : "memory");
}

}  // namespace tk

extern "C" {

[[noreturn]] void __stack_chk_fail() { tk::fail_now("libfdt: stack protector tripped"); }

void* memchr(const void* s, int c, size_t n) {
    auto* p = static_cast<const uint8_t*>(s);
    for (size_t i = 0; i < n; ++i)
        if (p[i] == uint8_t(c)) return const_cast<uint8_t*>(p + i);
    return nullptr;
}

size_t strnlen(const char* s, size_t max) {
    size_t n = 0;
    while (n < max && s[n]) ++n;
    return n;
}

char* strrchr(const char* s, int c) {
    const char* last = nullptr;
    for (;; ++s) {
        if (*s == char(c)) last = s;
        if (!*s) return const_cast<char*>(last);
    }
}

}  // extern "C"
