// Which firmware consoles get khoboot's protocol lines (loader/consoles.h),
// from device paths built here byte by byte as UEFI 2.10 section 10.3 lays
// them out, with the node forms OVMF and real boards use.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "loader/consoles.h"

namespace {

using kho::UartConfig;
using kho::UartKind;
using Path = std::vector<uint8_t>;

void node(Path* p, uint8_t type, uint8_t sub, std::vector<uint8_t> data) {
    const uint16_t len = uint16_t(4 + data.size());
    p->insert(p->end(), {type, sub, uint8_t(len), uint8_t(len >> 8)});
    p->insert(p->end(), data.begin(), data.end());
}

void le32(std::vector<uint8_t>* d, uint32_t v) {
    for (int i = 0; i < 4; ++i) d->push_back(uint8_t(v >> (8 * i)));
}

void pci_root(Path* p) {
    std::vector<uint8_t> d;
    le32(&d, 0x0a0341d0);  // PNP0A03
    le32(&d, 0);
    node(p, 2, 1, d);
}
void pci(Path* p, uint8_t dev, uint8_t fn) { node(p, 1, 1, {fn, dev}); }
// Serial(uid): ACPI HID PNP0501.
void acpi_serial(Path* p, uint32_t uid) {
    std::vector<uint8_t> d;
    le32(&d, 0x050141d0);
    le32(&d, uid);
    node(p, 2, 1, d);
}
void uart(Path* p) {
    std::vector<uint8_t> d(4, 0);  // reserved
    for (uint8_t b : {0x00, 0xc2, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00}) d.push_back(b);  // 115200
    d.insert(d.end(), {8, 1, 1});
    node(p, 3, 14, d);
}
void vt100(Path* p) {
    node(p, 3, 10, {0x53, 0x47, 0xc1, 0xe0, 0xbe, 0xf9, 0xd2, 0x11, 0x9a, 0x0c, 0x00, 0x90, 0x27, 0x3f, 0xc1, 0x4d});
}
void end(Path* p) { node(p, 0x7f, 0xff, {}); }

// PciRoot(0x0)/Pci(0x1F,0x0)/Serial(uid)/Uart(115200,8,N,1)/VenPcAnsi()
Path isa_serial_console(uint32_t uid) {
    Path p;
    pci_root(&p);
    pci(&p, 0x1f, 0);
    acpi_serial(&p, uid);
    uart(&p);
    vt100(&p);
    end(&p);
    return p;
}

// OVMF's: VenHw(D3987D4B-971A-435F-8CAF-4967EB627241)/Uart(115200,8,N,1)/VenPcAnsi()
Path serial_dxe_console() {
    Path p;
    node(&p, 1, 4, {0x4b, 0x7d, 0x98, 0xd3, 0x1a, 0x97, 0x5f, 0x43, 0x8c, 0xaf, 0x49, 0x67, 0xeb, 0x62, 0x72, 0x41});
    uart(&p);
    vt100(&p);
    end(&p);
    return p;
}

// PciRoot(0x0)/Pci(0x2,0x0): a graphics adapter.
Path gop_console() {
    Path p;
    pci_root(&p);
    pci(&p, 2, 0);
    end(&p);
    return p;
}

kho::ConsoleFacts facts(const Path& p) { return kho::console_path_facts(p.data(), p.size()); }

bool used(const Path& p, std::vector<UartConfig> direct = {kho::kCom1}) {
    return kho::use_firmware_console(facts(p), direct.data(), direct.size());
}

TEST(Consoles, ReadsTheUartBehindASerialPath) {
    auto f = facts(isa_serial_console(1));
    EXPECT_TRUE(f.has_path);
    EXPECT_TRUE(f.serial);
    EXPECT_EQ(f.uart.kind, UartKind::Io);
    EXPECT_EQ(f.uart.base, 0x2f8u);
    f = facts(serial_dxe_console());
    EXPECT_TRUE(f.serial);
    EXPECT_EQ(f.uart.base, 0x3f8u);
    f = facts(gop_console());
    EXPECT_TRUE(f.has_path);
    EXPECT_FALSE(f.serial);
    EXPECT_EQ(f.uart.kind, UartKind::None);
}

TEST(Consoles, SkipsOnlyTheWiresKhobootWritesItself) {
    EXPECT_FALSE(used(isa_serial_console(0)));  // COM1: khoboot writes it by port I/O
    EXPECT_FALSE(used(serial_dxe_console()));   // OVMF's COM1 console
    EXPECT_TRUE(used(isa_serial_console(1)));   // COM2, serial-over-LAN
    EXPECT_TRUE(used(gop_console()));
    // The same COM2 once loader.conf names it: written directly, so not twice.
    EXPECT_FALSE(used(isa_serial_console(1), {kho::kCom1, {UartKind::Io, 0x2f8, 115200}}));
    // A serial console whose wire the path does not name (UID past the
    // legacy four): used, as khoboot cannot know it writes it.
    EXPECT_TRUE(used(isa_serial_console(7)));
    // No device path: the ConSplitter, which echoes to all of the above.
    EXPECT_FALSE(kho::use_firmware_console(kho::console_path_facts(nullptr, 0), &kho::kCom1, 1));
}

// The replay to a newly named UART skips what a firmware console on the
// same UART already printed (OVMF drives COM2 too when QEMU has one).
TEST(Consoles, KnowsWhichConsoleDrivesAUart) {
    const UartConfig com2{UartKind::Io, 0x2f8, 115200};
    EXPECT_TRUE(kho::console_drives(facts(isa_serial_console(1)), com2));
    EXPECT_FALSE(kho::console_drives(facts(isa_serial_console(0)), com2));
    EXPECT_FALSE(kho::console_drives(facts(gop_console()), com2));
    EXPECT_FALSE(kho::console_drives(facts(isa_serial_console(7)), com2));
}

TEST(Consoles, MmioAndMmio32AtOneAddressAreOneUart) {
    UartConfig a{UartKind::Mmio, 0xfe001000, 0}, b{UartKind::Mmio32, 0xfe001000, 0};
    UartConfig io{UartKind::Io, 0xfe001000 & 0xffff, 0};
    EXPECT_TRUE(kho::same_uart(a, b));
    EXPECT_FALSE(kho::same_uart(a, io));
    EXPECT_FALSE(kho::same_uart(UartConfig{}, UartConfig{}));
}

TEST(Consoles, MalformedPathsAreReadNoFurtherThanTheirBytes) {
    Path p = isa_serial_console(1);
    // Cut inside the UART node: the ACPI node was read, the UART node not,
    // so this is no serial console.
    auto f = kho::console_path_facts(p.data(), 4 + 8 + 12 + 6 + 10);
    EXPECT_FALSE(f.serial);
    EXPECT_EQ(f.uart.kind, UartKind::None);
    // A node claiming length 2 stops the walk.
    Path bad;
    node(&bad, 2, 1, {});
    bad[2] = 2;
    EXPECT_FALSE(kho::console_path_facts(bad.data(), bad.size()).serial);
    // A node longer than the bytes left.
    Path longer = isa_serial_console(1);
    longer[2] = 0xff;
    EXPECT_FALSE(kho::console_path_facts(longer.data(), longer.size()).serial);
}

}  // namespace
