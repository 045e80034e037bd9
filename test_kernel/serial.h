// COM1 (0x3f8), polled: the test kernel's only output. Each protocol line
// is written whole, so a reader never sees two lines interleaved.
#pragma once
#include <stdarg.h>
#include <stddef.h>

namespace tk {

void serial_init();
void serial_write(const char* s, size_t n);
// printf-style (loader/format.h subset), one line, newline appended.
void println(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void vprintln(const char* fmt, va_list ap);

}  // namespace tk
