// The loader's output: protocol lines "KHOBOOT: <verb> ..." (efi/README.md)
// on COM1 by port I/O, so they keep working after ExitBootServices(), on
// the UART loader.conf names (`khoboot-uart`) by the same register writes,
// and on every firmware text console except those driving one of these
// two UARTs (loader/consoles.h decides: OVMF's ConOut also drives COM1,
// and one line twice on a wire is worse than once).
#pragma once
#include <stdarg.h>
#include <stdint.h>

#include "../loader/consoles.h"

namespace khoefi {

void log_init();                 // after g_st is set
void log_boot_services_gone();   // after ExitBootServices: serial only
// After loader.conf is read, whether or not it names a UART (kind None):
// opens it, replays the lines logged so far (a bounded buffer: the first
// 8 KiB, then a note that COM1 has the rest), drops the firmware console
// that drives the same UART, and ends the buffering.
void log_set_uart(const kho::UartConfig& uart);
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
