// Where khoboot's protocol lines go (efi/log.cpp writes them; the choices
// are made here, where they can be host-tested):
//   - COM1 (I/O port 0x3f8), always, by port I/O: it works before and
//     after ExitBootServices() without a firmware call;
//   - a UART named in loader.conf (`khoboot-uart`), by the same register
//     writes: serial-over-LAN on COM2, or an MMIO 8250 on boards without
//     legacy ports;
//   - every text console the firmware offers, including its serial ones,
//     except one that drives a UART khoboot already writes itself: the
//     same line twice on one wire is worse than useless for a reader that
//     counts protocol lines.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "status.h"

namespace kho {

// An 8250/16550 compatible UART, as Linux's earlycon names them
// (Documentation/admin-guide/kernel-parameters.txt, "earlycon=uart8250,"):
// io (port I/O), mmio (8-bit registers one byte apart), mmio32 (32-bit
// registers four bytes apart).
enum class UartKind : uint8_t { None, Io, Mmio, Mmio32 };
const char* uart_kind_name(UartKind k);

// All zero is "none": LoaderConf is cleared with memset.
struct UartConfig {
    UartKind kind;
    uint64_t base;
    // 0: keep the divisor the firmware programmed (the right choice for a
    // UART whose input clock is not the PC's 1.8432 MHz).
    uint32_t baud;
};

inline constexpr UartConfig kCom1{UartKind::Io, 0x3f8, 0};
inline constexpr uint32_t kUartClockBaud = 115200;  // 1.8432 MHz / 16

bool same_uart(const UartConfig& a, const UartConfig& b);

// `khoboot-uart` values: "io:<port>[,<baud>]", "mmio:<addr>[,<baud>]",
// "mmio32:<addr>[,<baud>]"; numbers decimal or 0x hex. A port leaves room
// for the 8 registers (<= 0xfff8), an MMIO address is non-zero and aligned
// to its register width, a baud divides 115200 (the divisor is 115200 /
// baud, as for every PC UART). Err::BadEntry with what is wrong in `why`
// terms; the caller adds file and line.
Status parse_uart_spec(const char* text, size_t len, UartConfig* out);

// What a console's device path says about the wire it drives; from
// console_path_facts(), or filled in by hand in tests.
struct ConsoleFacts {
    bool has_path = false;  // the ConSplitter's virtual handles have none
    bool serial = false;    // a UART messaging node: a serial terminal
    // The UART behind a serial path when the path names it, else kind None.
    UartConfig uart{};
};

// Reads a UEFI device path (UEFI 2.10 section 10.3: nodes of type,
// subtype, 16-bit length, ending with type 0x7f) at most `max_bytes`
// long. The UART is known for two forms:
//   - ACPI HID PNP0501 (a 16550) with UID n, n < 4: the PC's COMn+1
//     ports 0x3f8, 0x2f8, 0x3e8, 0x2e8, the assignment firmware and
//     Linux's legacy serial table (include/asm-generic/serial.h,
//     arch/x86/include/asm/serial.h) both use;
//   - EDK2's SerialDxe (VenHw D3987D4B-971A-435F-8CAF-4967EB627241,
//     MdeModulePkg/Universal/SerialDxe/SerialIo.c): the UART of the
//     platform's SerialPortLib, COM1 on x86 (PcdSerialRegisterBase
//     0x3f8), which is how OVMF drives its serial console.
// Any other serial path (a PCI UART, a vendor node) is an unknown wire.
ConsoleFacts console_path_facts(const void* path, size_t max_bytes);

// Whether the console is a serial terminal on `uart`: a line it was given
// is on that wire already, so a replay to `uart` must skip it.
bool console_drives(const ConsoleFacts& console, const UartConfig& uart);

// Whether a firmware console gets the protocol lines, given the UARTs
// khoboot writes itself: never one without a device path (the
// ConSplitter echoes to all the others), never a serial console on one of
// `direct`, every other one (graphics, other serial ports, unknown serial
// wires).
bool use_firmware_console(const ConsoleFacts& console, const UartConfig* direct, size_t direct_count);

}  // namespace kho
