/*
 * The C library functions Debian's libfdt.a and the core need, for a
 * freestanding UEFI image. gnu-efi's libefi already defines memcpy and
 * memset (defining them again is a link error). C, not C++: libfdt_env.h
 * declares these through <string.h>, whose C++ overloads would clash.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>

void* memchr(const void* s, int c, size_t n) {
    const unsigned char* p = s;
    for (; n; n--, p++)
        if (*p == (unsigned char)c) return (void*)p;
    return NULL;
}

int memcmp(const void* a, const void* b, size_t n) {
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y) return *x < *y ? -1 : 1;
    return 0;
}

void* memmove(void* dst, const void* src, size_t n) {
    unsigned char* d = dst;
    const unsigned char* s = src;
    if (d == s || n == 0) return dst;
    if (d < s) {
        while (n--) *d++ = *s++;
    } else {
        d += n;
        s += n;
        while (n--) *--d = *--s;
    }
    return dst;
}

size_t strlen(const char* s) {
    const char* p = s;
    while (*p) p++;
    return (size_t)(p - s);
}

size_t strnlen(const char* s, size_t max) {
    size_t n = 0;
    while (n < max && s[n]) n++;
    return n;
}

char* strchr(const char* s, int c) {
    for (;; s++) {
        if (*s == (char)c) return (char*)s;
        if (!*s) return NULL;
    }
}

char* strrchr(const char* s, int c) {
    const char* last = NULL;
    for (;; s++) {
        if (*s == (char)c) last = s;
        if (!*s) return (char*)last;
    }
}

int strcmp(const char* a, const char* b) {
    while (*a && *a == *b) a++, b++;
    return (unsigned char)*a - (unsigned char)*b;
}

/* libfdt uses strtoul only for unit addresses in path lookups. */
unsigned long strtoul(const char* s, char** end, int base) {
    unsigned long v = 0;
    while (*s == ' ' || *s == '\t') s++;
    if ((base == 0 || base == 16) && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
        base = 16;
    } else if (base == 0) {
        base = s[0] == '0' ? 8 : 10;
    }
    for (;; s++) {
        int d;
        if (*s >= '0' && *s <= '9') d = *s - '0';
        else if (*s >= 'a' && *s <= 'z') d = *s - 'a' + 10;
        else if (*s >= 'A' && *s <= 'Z') d = *s - 'A' + 10;
        else break;
        if (d >= base) break;
        v = v * (unsigned long)base + (unsigned long)d;
    }
    if (end) *end = (char*)s;
    return v;
}

/* efi/cxx_runtime.cpp: interrupts off, wait forever (efi/cpu.h). */
__attribute__((noreturn)) void khoefi_cpu_stop(void);

/* Built with -fno-stack-protector, but libfdt.a was not. */
uintptr_t __stack_chk_guard = 0x595e9fbd94fda766ull;
__attribute__((noreturn)) void __stack_chk_fail(void) {
    khoefi_cpu_stop();
}
