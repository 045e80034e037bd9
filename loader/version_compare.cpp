// systemd's version order (version_compare.h), written from its rules.
#include "version_compare.h"

#include <initializer_list>

namespace kho {

namespace {

bool digit(char c) { return c >= '0' && c <= '9'; }
bool alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool version_char(char c) { return digit(c) || alpha(c) || c == '~' || c == '-' || c == '^' || c == '.'; }
int sign(long v) { return (v > 0) - (v < 0); }

// One of the separators '~' '-' '^' '.': when exactly one side has it,
// that side is older (-1: a, 1: b); when both have it, both step over
// it and 0 says "go on".
int separator(const char*& a, const char*& b, char sep) {
    if (*a != sep && *b != sep) return 0;
    if (*a != sep) return 1;
    if (*b != sep) return -1;
    a++;
    b++;
    return 0;
}

// A run of digits: present beats absent, then by value (leading zeros
// dropped, the longer run is larger, then digit by digit).
int numeric_segment(const char*& a, const char*& b) {
    const char* ae = a;
    const char* be = b;
    while (digit(*ae)) ae++;
    while (digit(*be)) be++;
    if ((ae != a) != (be != b)) return ae != a ? 1 : -1;
    while (*a == '0') a++;
    while (*b == '0') b++;
    if (ae - a != be - b) return sign((ae - a) - (be - b));
    for (; a < ae; a++, b++)
        if (*a != *b) return sign(*a - *b);
    a = ae;
    b = be;
    return 0;
}

// A run of letters: byte order over the common length, then the longer
// is newer.
int alpha_segment(const char*& a, const char*& b) {
    const char* ae = a;
    const char* be = b;
    while (alpha(*ae)) ae++;
    while (alpha(*be)) be++;
    for (const char *x = a, *y = b; x < ae && y < be; x++, y++)
        if (*x != *y) return sign((unsigned char)*x - (unsigned char)*y);
    if (ae - a != be - b) return sign((ae - a) - (be - b));
    a = ae;
    b = be;
    return 0;
}

}  // namespace

int version_compare(const char* a, const char* b) {
    if (!a || !b) return a == b ? 0 : (a ? 1 : -1);
    if (!*a || !*b) return sign((unsigned char)*a - (unsigned char)*b);
    for (;;) {
        while (*a && !version_char(*a)) a++;
        while (*b && !version_char(*b)) b++;
        // '~' first: a pre-release is older even than the end of a string.
        if (int r = separator(a, b, '~')) return r;
        if (!*a || !*b) return sign((unsigned char)*a - (unsigned char)*b);
        for (char sep : {'-', '^', '.'})
            if (int r = separator(a, b, sep)) return r;
        int r = digit(*a) || digit(*b) ? numeric_segment(a, b) : alpha_segment(a, b);
        if (r) return r;
    }
}

}  // namespace kho
