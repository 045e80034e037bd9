#include "serial.h"

#include "../loader/format.h"
#include "io.h"

namespace tk {
namespace {

constexpr uint16_t kCom1 = 0x3f8;

void put(char c) {
    // Transmitter holding register empty (LSR bit 5); bounded so a missing
    // UART cannot hang the kernel.
    for (int i = 0; i < 100000 && !(inb(kCom1 + 5) & 0x20); ++i) {
    }
    outb(kCom1, static_cast<uint8_t>(c));
}

}  // namespace

void serial_init() {
    // 115200 8N1, FIFOs on (16550: divisor latch via LCR.DLAB).
    outb(kCom1 + 1, 0x00);
    outb(kCom1 + 3, 0x80);
    outb(kCom1 + 0, 0x01);
    outb(kCom1 + 1, 0x00);
    outb(kCom1 + 3, 0x03);
    outb(kCom1 + 2, 0xc7);
    outb(kCom1 + 4, 0x03);
}

void serial_write(const char* s, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        if (s[i] == '\n') put('\r');
        put(s[i]);
    }
}

void vprintln(const char* fmt, va_list ap) {
    char line[512];
    size_t n = kho::format_v(line, sizeof(line) - 1, fmt, ap);
    if (n > sizeof(line) - 2) n = sizeof(line) - 2;
    line[n++] = '\n';
    serial_write(line, n);
}

void println(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprintln(fmt, ap);
    va_end(ap);
}

}  // namespace tk
