#include "log.h"

#include "../loader/format.h"
#include "clock.h"
#include "uefi.h"

namespace khoefi {

namespace {

constexpr uint16_t kCom1 = 0x3f8;
constexpr uint16_t kLsr = kCom1 + 5;
constexpr uint8_t kLsrThre = 0x20;

bool g_serial_ok = true;
bool g_boot_services = true;
// Non-serial text outputs (graphics console): found once at init.
constexpr size_t kMaxConsoles = 4;
SIMPLE_TEXT_OUTPUT_INTERFACE* g_consoles[kMaxConsoles];
size_t g_console_count;

inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
inline uint8_t inb(uint16_t port) {
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

void serial_put(char c) {
    if (!g_serial_ok) return;
    // Bounded wait: a machine without a UART reads 0xff (THRE set) or
    // never signals; give up on the port rather than hang the boot.
    for (uint32_t spin = 0; !(inb(kLsr) & kLsrThre); spin++)
        if (spin > 1000000) {
            g_serial_ok = false;
            return;
        }
    outb(kCom1, static_cast<uint8_t>(c));
}

// True if the device path has a UART messaging node (serial terminal).
bool is_serial_path(EFI_DEVICE_PATH* dp) {
    for (int guard = 0; dp && guard < 64; guard++) {
        if (DevicePathType(dp) == END_DEVICE_PATH_TYPE) return false;
        if (DevicePathType(dp) == MESSAGING_DEVICE_PATH && DevicePathSubType(dp) == MSG_UART_DP)
            return true;
        uint16_t len = DevicePathNodeLength(dp);
        if (len < 4) return false;
        dp = reinterpret_cast<EFI_DEVICE_PATH*>(reinterpret_cast<uint8_t*>(dp) + len);
    }
    return false;
}

void find_consoles() {
    EFI_GUID text_out = EFI_SIMPLE_TEXT_OUTPUT_PROTOCOL_GUID;
    EFI_GUID dev_path = EFI_DEVICE_PATH_PROTOCOL_GUID;
    EFI_HANDLE handles[16];
    UINTN size = sizeof(handles);
    if (EFI_ERROR(g_bs->LocateHandle(ByProtocol, &text_out, nullptr, &size, handles))) return;
    for (UINTN i = 0; i < size / sizeof(EFI_HANDLE) && g_console_count < kMaxConsoles; i++) {
        EFI_DEVICE_PATH* dp = nullptr;
        // The ConSplitter's virtual handle has no device path: skip it,
        // it would echo to the serial terminal as well.
        if (EFI_ERROR(g_bs->HandleProtocol(handles[i], &dev_path, reinterpret_cast<void**>(&dp))) ||
            !dp || is_serial_path(dp))
            continue;
        SIMPLE_TEXT_OUTPUT_INTERFACE* out = nullptr;
        if (!EFI_ERROR(g_bs->HandleProtocol(handles[i], &text_out, reinterpret_cast<void**>(&out))) && out)
            g_consoles[g_console_count++] = out;
    }
}

// Console text held back while the loader acts on a memory-map snapshot
// (log_hold_console): OutputString may allocate, and an allocation there
// could land on a preserved page before it is protected.
char g_held[4096];
size_t g_held_len;
bool g_holding;
bool g_held_cut;

void console_write(const char* s);

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

void console_write(const char* s) {
    if (!g_boot_services) return;
    if (g_holding) return hold_text(s);
    CHAR16 buf[256];
    size_t n = 0;
    auto flush = [&] {
        buf[n] = 0;
        for (size_t i = 0; i < g_console_count; i++) g_consoles[i]->OutputString(g_consoles[i], buf);
        n = 0;
    };
    for (; *s; s++) {
        if (n + 3 >= sizeof(buf) / sizeof(buf[0])) flush();
        unsigned char c = static_cast<unsigned char>(*s);
        if (c == '\n') buf[n++] = '\r';
        buf[n++] = c < 0x80 ? c : '?';
    }
    flush();
}

}  // namespace

void log_init() { find_consoles(); }

void log_boot_services_gone() { g_boot_services = false; }

void log_hold_console(bool hold) {
    if (hold == g_holding) return;
    g_holding = hold;
    if (hold) {
        g_held_len = 0;
        g_held[0] = '\0';
        g_held_cut = false;
        return;
    }
    console_write(g_held);
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
    for (size_t i = 0; i < n; i++) {
        if (line[i] == '\n') serial_put('\r');
        serial_put(line[i]);
    }
    if (console) console_write(line);
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

uint64_t log_phase(const char* name, uint64_t start) {
    uint64_t now = rdtsc();
    logf("phase %s us=%llu at_us=%llu tsc=%llu", name,
         (unsigned long long)(clock_us(now) - clock_us(start)), (unsigned long long)clock_us(now),
         (unsigned long long)now);
    return now;
}

}  // namespace khoefi
