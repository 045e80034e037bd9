// Protocol lines of the test kernel (docs/architecture.md section 4):
//   TEST_KERNEL: check NAME ok|fail DETAIL   one per check
//   TEST_KERNEL: result pass|fail            once, just before QEMU exits
// plus informational "TEST_KERNEL: info ..." and "TEST_KERNEL: produce ...".
#pragma once
#include <stdarg.h>

namespace tk {

// Prints the check line; returns `ok`. Any failed check fails the result.
bool check(const char* name, bool ok, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
bool any_check_failed();
unsigned checks_run();
// Prints "result pass|fail" from the checks so far and ends QEMU.
[[noreturn]] void finish();
// Prints "result fail" with a reason line first, and ends QEMU.
[[noreturn]] void fail_now(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace tk
