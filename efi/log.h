// The loader's output: protocol lines "KHOBOOT: <verb> ..." (efi/README.md)
// on COM1 by port I/O, so they keep working after ExitBootServices(), and
// the same text on the firmware's non-serial text consoles for people.
// OVMF's ConOut also drives the serial terminal: writing both there and to
// COM1 would print every line twice on the wire, hence the console split.
#pragma once
#include <stdarg.h>
#include <stdint.h>

namespace khoefi {

void log_init();                 // after g_st is set
void log_boot_services_gone();   // after ExitBootServices: serial only
// While held, console text is buffered (COM1 is written at once: port I/O
// needs no firmware call); released, it is written out. For the window
// between a memory-map snapshot and the allocations made from it.
void log_hold_console(bool hold);
// One protocol line: "KHOBOOT: " + formatted text + CRLF.
void logf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// The same on COM1 only: per-range detail lines that only tests read. The
// graphics console costs about 1 ms a line under TCG (it scrolls a
// framebuffer), which 512 lines would add to the boot.
void logf_serial(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// "KHOBOOT: phase <name> us=<duration> at_us=<since entry> tsc=<now>";
// returns now's TSC so the caller can start the next phase from it.
uint64_t log_phase(const char* name, uint64_t phase_start_tsc);

}  // namespace khoefi
