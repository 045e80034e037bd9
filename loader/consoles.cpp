// Console choice and the khoboot-uart value (consoles.h says why).
#include "consoles.h"

namespace kho {

namespace {

// Decimal or 0x hex, the whole of [s, s + n), no overflow.
bool parse_plain_number(const char* s, size_t n, uint64_t* out) {
    unsigned base = 10;
    size_t i = 0;
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) base = 16, i = 2;
    if (i == n) return false;
    uint64_t v = 0;
    for (; i < n; ++i) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9') d = unsigned(c - '0');
        else if (base == 16 && c >= 'a' && c <= 'f') d = unsigned(c - 'a' + 10);
        else if (base == 16 && c >= 'A' && c <= 'F') d = unsigned(c - 'A' + 10);
        else return false;
        if (v > (UINT64_MAX - d) / base) return false;
        v = v * base + d;
    }
    *out = v;
    return true;
}

bool prefix(const char* s, size_t n, const char* p, size_t* plen) {
    size_t k = 0;
    while (p[k] && k < n && s[k] == p[k]) ++k;
    if (p[k]) return false;
    *plen = k;
    return true;
}

Status bad_uart(const char* why) {
    return Status::error(Err::BadEntry, "khoboot-uart %s", why);
}

Status check_uart(const UartConfig& u) {
    if (u.kind == UartKind::Io && u.base > 0xfff8) return bad_uart("port leaves no room for 8 registers");
    if (u.kind != UartKind::Io && u.base == 0) return bad_uart("MMIO address 0");
    if (u.kind == UartKind::Mmio32 && (u.base & 3)) return bad_uart("mmio32 address not 4-byte aligned");
    if (u.kind != UartKind::Io && u.base > UINT64_MAX - 8 * 4) return bad_uart("MMIO address wraps");
    if (u.baud && (u.baud > kUartClockBaud || kUartClockBaud % u.baud))
        return bad_uart("baud does not divide 115200");
    return Status::ok();
}

}  // namespace

const char* uart_kind_name(UartKind k) {
    switch (k) {
    case UartKind::None: return "none";
    case UartKind::Io: return "io";
    case UartKind::Mmio: return "mmio";
    case UartKind::Mmio32: return "mmio32";
    }
    return "?";
}

bool same_uart(const UartConfig& a, const UartConfig& b) {
    if (a.kind == UartKind::None || b.kind == UartKind::None) return false;
    // mmio and mmio32 at one address are one device read two ways.
    bool a_io = a.kind == UartKind::Io, b_io = b.kind == UartKind::Io;
    return a_io == b_io && a.base == b.base;
}

Status parse_uart_spec(const char* s, size_t n, UartConfig* out) {
    UartConfig u{};
    size_t p = 0;
    // "mmio32:" before "mmio:": the longer name first.
    if (prefix(s, n, "io:", &p)) u.kind = UartKind::Io;
    else if (prefix(s, n, "mmio32:", &p)) u.kind = UartKind::Mmio32;
    else if (prefix(s, n, "mmio:", &p)) u.kind = UartKind::Mmio;
    else return bad_uart("wants io:, mmio: or mmio32:");
    size_t comma = p;
    while (comma < n && s[comma] != ',') ++comma;
    if (!parse_plain_number(s + p, comma - p, &u.base)) return bad_uart("address is not a number");
    if (comma < n) {
        uint64_t baud = 0;
        if (!parse_plain_number(s + comma + 1, n - comma - 1, &baud) || baud == 0 || baud > UINT32_MAX)
            return bad_uart("baud is not a number above 0");
        u.baud = uint32_t(baud);
    }
    KHO_TRY(check_uart(u));
    *out = u;
    return Status::ok();
}

namespace {

constexpr uint8_t kEndType = 0x7f;
constexpr uint8_t kHardwareType = 0x01, kHwVendorSub = 0x04;
constexpr uint8_t kAcpiType = 0x02, kAcpiSub = 0x01;
constexpr uint8_t kMessagingType = 0x03, kUartSub = 0x0e;
// EISA_PNP_ID(0x0501): "PNP" compressed in the low 16 bits, the product
// number above (UEFI 2.10 section 10.3.3).
constexpr uint32_t kPnp0501 = 0x050141d0;
// EDKII_SERIAL_PORT_LIB_VENDOR_GUID in its in-memory byte order.
constexpr uint8_t kSerialPortLibGuid[16] = {0x4b, 0x7d, 0x98, 0xd3, 0x1a, 0x97, 0x5f, 0x43,
                                            0x8c, 0xaf, 0x49, 0x67, 0xeb, 0x62, 0x72, 0x41};
constexpr uint64_t kLegacyComPorts[4] = {0x3f8, 0x2f8, 0x3e8, 0x2e8};

uint32_t le32(const uint8_t* p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

bool bytes_equal(const uint8_t* a, const uint8_t* b, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (a[i] != b[i]) return false;
    return true;
}

// What one node adds to the facts.
void read_node(const uint8_t* node, uint16_t len, ConsoleFacts* f) {
    const uint8_t type = node[0], sub = node[1];
    if (type == kMessagingType && sub == kUartSub) f->serial = true;
    if (type == kAcpiType && sub == kAcpiSub && len >= 12 && le32(node + 4) == kPnp0501) {
        const uint32_t uid = le32(node + 8);
        f->uart = uid < 4 ? UartConfig{UartKind::Io, kLegacyComPorts[uid], 0} : UartConfig{};
    }
    if (type == kHardwareType && sub == kHwVendorSub && len >= 20 &&
        bytes_equal(node + 4, kSerialPortLibGuid, 16))
        f->uart = kCom1;
}

}  // namespace

ConsoleFacts console_path_facts(const void* path, size_t max_bytes) {
    ConsoleFacts f;
    if (!path) return f;
    f.has_path = true;
    const uint8_t* p = static_cast<const uint8_t*>(path);
    for (size_t off = 0; off + 4 <= max_bytes;) {
        const uint16_t len = uint16_t(p[off + 2] | p[off + 3] << 8);
        if (p[off] == kEndType) break;
        if (len < 4 || len > max_bytes - off) break;  // malformed: stop, keep what was read
        read_node(p + off, len, &f);
        off += len;
    }
    // A UART found on a path without a UART node is some other device.
    if (!f.serial) f.uart = UartConfig{};
    return f;
}

bool console_drives(const ConsoleFacts& c, const UartConfig& uart) {
    return c.has_path && c.serial && same_uart(c.uart, uart);
}

bool use_firmware_console(const ConsoleFacts& c, const UartConfig* direct, size_t direct_count) {
    if (!c.has_path) return false;
    for (size_t i = 0; i < direct_count; ++i)
        if (console_drives(c, direct[i])) return false;
    return true;
}

}  // namespace kho
