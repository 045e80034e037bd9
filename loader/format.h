// A tiny freestanding snprintf subset for status messages and log lines
// (loader/ has no libc in the EFI build).
#pragma once
#include <stdarg.h>
#include <stddef.h>

namespace kho {

// Supports %s %c %d %i %u %x %X %p %% with optional l/ll/z length, a field
// width and the 0 flag. Always NUL-terminates; returns bytes written.
size_t format_v(char* out, size_t size, const char* fmt, va_list ap);
size_t format(char* out, size_t size, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

}  // namespace kho
