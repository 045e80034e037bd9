// The test kernel's answer to a CPU exception: report it and end the test
// as failed, so a fault never becomes a triple fault and a silent reset.
#include "exceptions.h"
#include "io.h"
#include "qemu_exit.h"
#include "serial.h"

extern "C" [[noreturn]] void exception_report(const tk::ExceptionFrame* f) {
    tk::println("TEST_KERNEL: exception vector=%lu error=0x%lx rip=0x%lx cr2=0x%lx rsp=0x%lx",
                static_cast<unsigned long>(f->vector), static_cast<unsigned long>(f->error),
                static_cast<unsigned long>(f->rip), static_cast<unsigned long>(tk::read_cr2()),
                static_cast<unsigned long>(f->rsp));
    tk::println("TEST_KERNEL: result fail");
    tk::qemu_exit(tk::kExitFail);
}
