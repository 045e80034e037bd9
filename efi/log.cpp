#include "log.h"

#include "../loader/format.h"
#include "clock.h"
#include "uart.h"
#include "uefi.h"

namespace khoefi {

namespace {

bool g_boot_services = true;

// COM1 by port I/O, always; loader.conf's khoboot-uart once it is read.
constinit Uart g_com1;
constinit Uart g_extra;

// Lines written before loader.conf is read, replayed to the UART it names
// (log_set_uart): the lines of the boot's first phases are the ones a lab
// reading serial-over-LAN needs most. Static storage: by the time the
// UART is known, the state is protected and nothing may be allocated.
// Each line is kept as [console-bound 0|1][mask of the firmware consoles
// that printed it][text with its '\n']: a firmware serial console on the
// UART loader.conf names (OVMF drives COM2 when QEMU has one) printed
// those lines there already, and the replay skips them.
char g_early[8192];
size_t g_early_len;
size_t g_early_last;       // header of the last line kept
bool g_early_open = true;  // until log_set_uart() or the buffer is full
bool g_early_cut;
size_t g_hold_from;        // g_early_len when log_hold_console(true)

void early_line(const char* s, size_t n, bool console) {
    if (!g_early_open || g_early_cut) return;
    if (g_early_len + 2 + n > sizeof(g_early)) {
        g_early_cut = true;  // later lines neither: the replay keeps the order
        return;
    }
    g_early_last = g_early_len;
    g_early[g_early_len++] = console;
    g_early[g_early_len++] = 0;
    for (size_t i = 0; i < n; i++) g_early[g_early_len++] = s[i];
}

// Adds `mask` to the console-bound lines kept from offset `from` on.
void early_mark(size_t from, uint8_t mask) {
    for (size_t at = from; at < g_early_len;) {
        if (g_early[at]) g_early[at + 1] = static_cast<char>(g_early[at + 1] | mask);
        at += 2;
        while (at < g_early_len && g_early[at++] != '\n') {}
    }
}

void uart_line(Uart* u, const char* s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n') uart_put(u, '\r');
        uart_put(u, s[i]);
    }
}

void serial_write(const char* s, size_t n, bool console) {
    uart_line(&g_com1, s, n);
    uart_line(&g_extra, s, n);
    early_line(s, n, console);
}

// Text outputs with a device path, each with what the path says about its
// wire: found once at init, chosen at every write (the choice changes when
// loader.conf names a UART one of them drives).
constexpr size_t kMaxConsoles = 8;
struct Console {
    SIMPLE_TEXT_OUTPUT_INTERFACE* out;
    kho::ConsoleFacts facts;
};
constinit Console g_consoles[kMaxConsoles] = {};
size_t g_console_count;

bool console_used(const Console& c) {
    const kho::UartConfig direct[2] = {g_com1.config, g_extra.config};
    return kho::use_firmware_console(c.facts, direct, g_extra.ok ? 2 : 1);
}

// Bit i: g_consoles[i] is written now.
uint8_t used_mask() {
    uint8_t mask = 0;
    for (size_t i = 0; i < g_console_count; i++)
        if (console_used(g_consoles[i])) mask = static_cast<uint8_t>(mask | 1u << i);
    return mask;
}

void find_consoles() {
    EFI_GUID text_out = EFI_SIMPLE_TEXT_OUTPUT_PROTOCOL_GUID;
    EFI_GUID dev_path = EFI_DEVICE_PATH_PROTOCOL_GUID;
    EFI_HANDLE handles[16];
    UINTN size = sizeof(handles);
    if (EFI_ERROR(g_bs->LocateHandle(ByProtocol, &text_out, nullptr, &size, handles))) return;
    for (UINTN i = 0; i < size / sizeof(EFI_HANDLE) && g_console_count < kMaxConsoles; i++) {
        EFI_DEVICE_PATH* dp = nullptr;
        if (EFI_ERROR(g_bs->HandleProtocol(handles[i], &dev_path, reinterpret_cast<void**>(&dp))))
            dp = nullptr;
        // A path is read node by node up to its end node; the bound only
        // stops a path without one.
        kho::ConsoleFacts facts = kho::console_path_facts(dp, 4096);
        SIMPLE_TEXT_OUTPUT_INTERFACE* out = nullptr;
        if (!facts.has_path ||
            EFI_ERROR(g_bs->HandleProtocol(handles[i], &text_out, reinterpret_cast<void**>(&out))) || !out)
            continue;
        g_consoles[g_console_count++] = {out, facts};
    }
}

// Console text held back while the loader acts on a memory-map snapshot
// (log_hold_console): OutputString may allocate, and an allocation there
// could land on a preserved page before it is protected.
char g_held[4096];
size_t g_held_len;
bool g_holding;
bool g_held_cut;

uint8_t console_write(const char* s);

void hold_text(const char* s) {
    for (; *s; s++) {
        if (g_held_len + 1 >= sizeof(g_held)) {
            g_held_cut = true;
            return;
        }
        g_held[g_held_len++] = *s;
    }
    g_held[g_held_len] = '\0';
}

// Returns the consoles it printed on (none while held).
uint8_t console_write(const char* s) {
    if (!g_boot_services) return 0;
    if (g_holding) {
        hold_text(s);
        return 0;
    }
    const uint8_t mask = used_mask();
    CHAR16 buf[256];
    size_t n = 0;
    auto flush = [&] {
        buf[n] = 0;
        for (size_t i = 0; i < g_console_count; i++)
            if (mask & (1u << i)) g_consoles[i].out->OutputString(g_consoles[i].out, buf);
        n = 0;
    };
    for (; *s; s++) {
        if (n + 3 >= sizeof(buf) / sizeof(buf[0])) flush();
        unsigned char c = static_cast<unsigned char>(*s);
        if (c == '\n') buf[n++] = '\r';
        buf[n++] = c < 0x80 ? c : '?';
    }
    flush();
    return mask;
}

}  // namespace

void log_init() {
    uart_open(&g_com1, cpu_serial());
    find_consoles();
}

void log_boot_services_gone() { g_boot_services = false; }

void log_hold_console(bool hold) {
    if (hold == g_holding) return;
    g_holding = hold;
    if (hold) {
        g_held_len = 0;
        g_held[0] = '\0';
        g_held_cut = false;
        g_hold_from = g_early_len;
        return;
    }
    const uint8_t mask = console_write(g_held);
    // Lines cut from the held text were printed nowhere: then the replay
    // repeats them all rather than lose some.
    if (!g_held_cut) early_mark(g_hold_from, mask);
    if (g_held_cut) console_write("KHOBOOT: (console lines dropped; COM1 has them all)\n");
}

namespace {

void vlog(bool console, const char* fmt, va_list ap) {
    char line[640];
    size_t n = kho::format(line, sizeof(line), "KHOBOOT: ");
    n += kho::format_v(line + n, sizeof(line) - n, fmt, ap);
    if (n > sizeof(line) - 2) n = sizeof(line) - 2;
    // A protocol line is one line: fold embedded newlines.
    for (size_t i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r') line[i] = ' ';
    line[n++] = '\n';
    line[n] = '\0';
    serial_write(line, n, console);
    if (!console) return;
    const uint8_t mask = console_write(line);
    if (mask && g_early_open && !g_early_cut && g_early_last + 1 < g_early_len)
        g_early[g_early_last + 1] = static_cast<char>(mask);
}

}  // namespace

void logf(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog(true, fmt, ap);
    va_end(ap);
}

void logf_serial(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog(false, fmt, ap);
    va_end(ap);
}

void log_set_uart(const kho::UartConfig& uart) {
    g_early_open = false;
    if (uart.kind == kho::UartKind::None) return;
    if (kho::same_uart(uart, kho::kCom1)) {
        logf("console uart=io:0x3f8 is COM1, written already");
        return;
    }
    // Consoles that put their lines on this UART already.
    uint8_t on_wire = 0;
    for (size_t i = 0; i < g_console_count; i++)
        if (kho::console_drives(g_consoles[i].facts, uart)) on_wire = static_cast<uint8_t>(on_wire | 1u << i);
    uart_open(&g_extra, uart);
    size_t replayed = 0;
    for (size_t at = 0; at < g_early_len;) {
        const uint8_t printed = static_cast<uint8_t>(g_early[at + 1]);
        size_t end = at + 2;
        while (end < g_early_len && g_early[end++] != '\n') {}
        if (!(printed & on_wire)) {
            uart_line(&g_extra, g_early + at + 2, end - at - 2);
            replayed++;
        }
        at = end;
    }
    if (g_early_cut) {
        const char cut[] = "KHOBOOT: (early lines dropped; COM1 has them all)\n";
        uart_line(&g_extra, cut, sizeof(cut) - 1);
    }
    size_t used = 0;
    for (size_t i = 0; i < g_console_count; i++) used += console_used(g_consoles[i]);
    logf("console uart=%s:0x%llx baud=%u replayed=%zu firmware-consoles=%zu/%zu",
         kho::uart_kind_name(uart.kind), (unsigned long long)uart.base, uart.baud, replayed, used,
         g_console_count);
}

uint64_t log_phase(const char* name, uint64_t start) {
    uint64_t now = rdtsc();
    logf("phase %s us=%llu at_us=%llu tsc=%llu", name,
         (unsigned long long)(clock_us(now) - clock_us(start)), (unsigned long long)clock_us(now),
         (unsigned long long)now);
    return now;
}

}  // namespace khoefi
