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

// One conversion: %[0][width][l|ll][z]C.
struct Spec {
    bool zero = false;
    int width = 0;
    int longs = 0;
    bool size_t_arg = false;
    char conv = 0;
};

// Reads the flags, width and length after '%'; returns the conversion
// character's position (the terminating NUL if the format ends early).
const char* parse_spec(const char* p, Spec* s) {
    if (*p == '0') {
        s->zero = true;
        ++p;
    }
    while (*p >= '0' && *p <= '9') s->width = s->width * 10 + (*p++ - '0');
    while (*p == 'l') {
        ++s->longs;
        ++p;
    }
    if (*p == 'z') {
        s->size_t_arg = true;
        ++p;
    }
    s->conv = *p;
    return p;
}

// Arguments are read through a pointer to one va_list, so that the
// caller's list advances with every conversion (C11 7.16p3).
long long signed_arg(const Spec& s, va_list* ap) {
    return s.size_t_arg ? (long long)va_arg(*ap, size_t)
           : s.longs >= 2 ? va_arg(*ap, long long)
           : s.longs == 1 ? va_arg(*ap, long)
                          : va_arg(*ap, int);
}

unsigned long long unsigned_arg(const Spec& s, va_list* ap) {
    return s.size_t_arg ? va_arg(*ap, size_t)
           : s.longs >= 2 ? va_arg(*ap, unsigned long long)
           : s.longs == 1 ? va_arg(*ap, unsigned long)
                          : va_arg(*ap, unsigned);
}

void put_string(Out& o, const char* s, int width) {
    if (!s) s = "(null)";
    int n = 0;
    for (const char* q = s; *q; ++q) ++n;
    for (int pad = width - n; pad > 0; --pad) o.put(' ');
    while (*s) o.put(*s++);
}

void put_conversion(Out& o, const Spec& s, va_list* ap) {
    switch (s.conv) {
    case 's':
        put_string(o, va_arg(*ap, const char*), s.width);
        break;
    case 'c':
        for (int pad = s.width - 1; pad > 0; --pad) o.put(' ');
        o.put(char(va_arg(*ap, int)));
        break;
    case 'd':
    case 'i': {
        long long v = signed_arg(s, ap);
        unsigned long long mag = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
        put_number(o, mag, 10, false, s.width, s.zero, v < 0 ? '-' : 0);
        break;
    }
    case 'u':
    case 'x':
    case 'X':
        put_number(o, unsigned_arg(s, ap), s.conv == 'u' ? 10 : 16, s.conv == 'X', s.width, s.zero);
        break;
    case 'p':
        o.put('0');
        o.put('x');
        put_number(o, (uintptr_t)va_arg(*ap, void*), 16, false, s.width, s.zero);
        break;
    case '%':
        o.put('%');
        break;
    default:
        o.put('%');
        o.put(s.conv);
    }
}

}  // namespace

size_t format_v(char* out, size_t size, const char* fmt, va_list ap) {
    Out o{out, size};
    va_list args;
    va_copy(args, ap);
    for (const char* p = fmt; *p; ++p) {
        if (*p != '%') {
            o.put(*p);
            continue;
        }
        Spec spec;
        p = parse_spec(p + 1, &spec);
        if (!spec.conv) break;  // a lone '%' (and flags) at the end prints nothing
        put_conversion(o, spec, &args);
    }
    va_end(args);
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
