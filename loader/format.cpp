#include "format.h"

#include <stdint.h>

namespace kho {
namespace {

struct Out {
    char* buf;
    size_t size;
    size_t len = 0;
    void put(char c) {
        if (len + 1 < size) buf[len] = c;
        ++len;
    }
};

// Writes v in `base`, padded to `width` as printf does: the sign counts
// toward the width, and goes before zero padding but after space padding.
void put_number(Out& o, unsigned long long v, unsigned base, bool upper, int width, bool zero,
                char sign = 0) {
    char digits[24];
    int n = 0;
    const char* set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        digits[n++] = set[v % base];
        v /= base;
    } while (v);
    int pad = width - n - (sign ? 1 : 0);
    if (!zero)
        for (; pad > 0; --pad) o.put(' ');
    if (sign) o.put(sign);
    for (; pad > 0; --pad) o.put('0');
    while (n) o.put(digits[--n]);
}

}  // namespace

size_t format_v(char* out, size_t size, const char* fmt, va_list ap) {
    Out o{out, size};
    for (const char* p = fmt; *p; ++p) {
        if (*p != '%') {
            o.put(*p);
            continue;
        }
        ++p;
        bool zero = false;
        int width = 0;
        if (*p == '0') {
            zero = true;
            ++p;
        }
        while (*p >= '0' && *p <= '9') width = width * 10 + (*p++ - '0');
        int longs = 0;
        bool size_t_arg = false;
        while (*p == 'l') {
            ++longs;
            ++p;
        }
        if (*p == 'z') {
            size_t_arg = true;
            ++p;
        }
        switch (*p) {
        case 's': {
            const char* s = va_arg(ap, const char*);
            if (!s) s = "(null)";
            int n = 0;
            for (const char* q = s; *q; ++q) ++n;
            for (int pad = width - n; pad > 0; --pad) o.put(' ');
            while (*s) o.put(*s++);
            break;
        }
        case 'c':
            for (int pad = width - 1; pad > 0; --pad) o.put(' ');
            o.put(char(va_arg(ap, int)));
            break;
        case 'd':
        case 'i': {
            long long v = size_t_arg ? (long long)va_arg(ap, size_t)
                          : longs >= 2 ? va_arg(ap, long long)
                          : longs == 1 ? va_arg(ap, long)
                                       : va_arg(ap, int);
            unsigned long long mag = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
            put_number(o, mag, 10, false, width, zero, v < 0 ? '-' : 0);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            unsigned long long v = size_t_arg ? va_arg(ap, size_t)
                                   : longs >= 2 ? va_arg(ap, unsigned long long)
                                   : longs == 1 ? va_arg(ap, unsigned long)
                                                : va_arg(ap, unsigned);
            put_number(o, v, *p == 'u' ? 10 : 16, *p == 'X', width, zero);
            break;
        }
        case 'p':
            o.put('0');
            o.put('x');
            put_number(o, (uintptr_t)va_arg(ap, void*), 16, false, width, zero);
            break;
        case '%':
            o.put('%');
            break;
        case '\0':
            --p;
            break;
        default:
            o.put('%');
            o.put(*p);
        }
    }
    if (size) out[o.len < size ? o.len : size - 1] = '\0';
    return o.len < size ? o.len : (size ? size - 1 : 0);
}

size_t format(char* out, size_t size, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t n = format_v(out, size, fmt, ap);
    va_end(ap);
    return n;
}

}  // namespace kho
