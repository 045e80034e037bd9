#include "report.h"

#include "../loader/format.h"
#include "qemu_exit.h"
#include "serial.h"

namespace tk {
namespace {

bool g_failed = false;
unsigned g_checks = 0;

}  // namespace

bool check(const char* name, bool ok, const char* fmt, ...) {
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    kho::format_v(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    println("TEST_KERNEL: check %s %s %s", name, ok ? "ok" : "fail", detail);
    ++g_checks;
    if (!ok) g_failed = true;
    return ok;
}

bool any_check_failed() { return g_failed; }
unsigned checks_run() { return g_checks; }

void finish() {
    bool pass = !g_failed && g_checks > 0;
    println("TEST_KERNEL: result %s", pass ? "pass" : "fail");
    qemu_exit(pass ? kExitPass : kExitFail);
}

void fail_now(const char* fmt, ...) {
    char why[400];
    va_list ap;
    va_start(ap, fmt);
    kho::format_v(why, sizeof(why), fmt, ap);
    va_end(ap);
    println("TEST_KERNEL: error %s", why);
    println("TEST_KERNEL: result fail");
    qemu_exit(kExitFail);
}

}  // namespace tk
