// 8250/16550 register access. Register numbers and bits from the 16550D
// data sheet (TI/National, "PC16550D UART with FIFOs"), as Linux's
// include/uapi/linux/serial_reg.h names them.
#include "uart.h"

#include "cpu.h"

namespace khoefi {

namespace {

enum Reg : uint8_t { kThr = 0, kDll = 0, kIer = 1, kDlm = 1, kFcr = 2, kLcr = 3, kMcr = 4, kLsr = 5 };
constexpr uint8_t kLcrDlab = 0x80, kLcr8n1 = 0x03;
constexpr uint8_t kFcrEnableClear = 0x07;  // FIFOs on, both cleared
constexpr uint8_t kMcrDtrRts = 0x03;
constexpr uint8_t kLsrThre = 0x20;


void write_reg(const kho::UartConfig& u, uint8_t reg, uint8_t v) {
    switch (u.kind) {
    case kho::UartKind::Io: port_write8(static_cast<uint16_t>(u.base + reg), v); break;
    case kho::UartKind::Mmio: *reinterpret_cast<volatile uint8_t*>(u.base + reg) = v; break;
    case kho::UartKind::Mmio32: *reinterpret_cast<volatile uint32_t*>(u.base + 4u * reg) = v; break;
    case kho::UartKind::None: break;
    }
}

uint8_t read_reg(const kho::UartConfig& u, uint8_t reg) {
    switch (u.kind) {
    case kho::UartKind::Io: {
        uint8_t v = 0;
        return port_read8(static_cast<uint16_t>(u.base + reg), &v) ? v : 0;
    }
    case kho::UartKind::Mmio: return *reinterpret_cast<volatile uint8_t*>(u.base + reg);
    case kho::UartKind::Mmio32:
        return static_cast<uint8_t>(*reinterpret_cast<volatile uint32_t*>(u.base + 4u * reg));
    case kho::UartKind::None: break;
    }
    return 0;
}

}  // namespace

void uart_open(Uart* uart, const kho::UartConfig& c) {
    uart->config = c;
    // An I/O port on a CPU without port I/O (arm64) is no UART.
    uart->ok = c.kind != kho::UartKind::None && (c.kind != kho::UartKind::Io || cpu_has_port_io());
    if (!uart->ok || !c.baud) return;
    const uint32_t divisor = kho::kUartClockBaud / c.baud;  // the parser checked it divides
    write_reg(c, kIer, 0);  // polled: no interrupts
    write_reg(c, kLcr, kLcrDlab);
    write_reg(c, kDll, static_cast<uint8_t>(divisor));
    write_reg(c, kDlm, static_cast<uint8_t>(divisor >> 8));
    write_reg(c, kLcr, kLcr8n1);
    write_reg(c, kFcr, kFcrEnableClear);
    write_reg(c, kMcr, kMcrDtrRts);
}

void uart_put(Uart* uart, char c) {
    if (!uart->ok) return;
    // Bounded wait: a machine without this UART reads 0xff (THRE set) or
    // never signals; give up on it rather than hang the boot.
    for (uint32_t spin = 0; !(read_reg(uart->config, kLsr) & kLsrThre); spin++)
        if (spin > 1000000) {
            uart->ok = false;
            return;
        }
    write_reg(uart->config, kThr, static_cast<uint8_t>(c));
}

}  // namespace khoefi
