// What differs between the CPUs khoboot runs on, below the boot protocol:
// a cycle counter, stopping the CPU, port I/O and the serial port written
// by register. One implementation per architecture (efi/x86_64/cpu.cpp,
// efi/aarch64/cpu.cpp); the build links the one of the target.
#pragma once
#include <stdint.h>

#include "../loader/consoles.h"

namespace khoefi {

// A free-running counter: the TSC on x86-64, CNTVCT_EL0 on arm64.
uint64_t cpu_ticks();
// Waits for an interrupt (a halt keeps RAM for inspection).
void cpu_wait();
// Interrupts off, then wait forever: after ExitBootServices().
[[noreturn]] void cpu_stop();
bool cpu_has_port_io();
// Port I/O; false on a CPU without an I/O space (nothing done).
bool port_write8(uint16_t port, uint8_t value);
bool port_read8(uint16_t port, uint8_t* value);
// The UART khoboot writes every line to by register, so lines keep coming
// after ExitBootServices(): COM1 on a PC; none (kind None) on arm64, where
// the kernel's EFI stub, not khoboot, exits boot services and the
// firmware's serial console carries every line.
kho::UartConfig cpu_serial();

}  // namespace khoefi
