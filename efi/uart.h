// An 8250/16550 UART driven by its registers (loader/consoles.h names the
// kinds): port I/O or MMIO with 1- or 4-byte register stride. No firmware
// call, so it keeps working after ExitBootServices(), as COM1 always did.
#pragma once
#include <stdint.h>

#include "../loader/consoles.h"

namespace khoefi {

struct Uart {
    kho::UartConfig config{};
    bool ok = false;  // false: absent or given up on (a write timed out)
};

// Programs 8N1 at config.baud (divisor 115200 / baud, FIFOs on) unless
// baud is 0, which keeps what the firmware set.
void uart_open(Uart* uart, const kho::UartConfig& config);
void uart_put(Uart* uart, char c);

}  // namespace khoefi
