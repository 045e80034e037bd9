// systemd's Boot Loader Interface (loader/boot_loader_interface.h): each
// variable's bytes against the published format (systemd
// docs/BOOT_LOADER_INTERFACE.md: UTF-16LE NUL-terminated strings, times
// as decimal microseconds, LoaderEntries NUL-separated, LoaderFeatures a
// little-endian uint64), and the entry choice with LoaderEntryOneShot and
// LoaderEntryDefault through whole boots against the model firmware.
// Expected bytes are spelled out here (u16() below), not produced by the
// code under test.
#include <gtest/gtest.h>
#include <string.h>

#include <memory>
#include <string>
#include <vector>

#include "fake_firmware.h"
#include "loader/boot_flow.h"
#include "loader/boot_loader_interface.h"

namespace {

using namespace khotest;
using kho::BootOutcome;
namespace bli = kho::bli;

// UTF-16LE with the terminating NUL, from a char16_t literal.
std::vector<uint8_t> u16(const std::u16string& s) {
    std::vector<uint8_t> out;
    for (char16_t c : s) {
        out.push_back(uint8_t(c & 0xff));
        out.push_back(uint8_t(c >> 8));
    }
    out.push_back(0);
    out.push_back(0);
    return out;
}

std::vector<uint8_t> bytes(std::initializer_list<uint8_t> b) { return std::vector<uint8_t>(b); }

TEST(BootLoaderInterface, StringsAreUtf16LeWithTheirNul) {
    uint8_t out[16];
    size_t len = 0;
    ASSERT_TRUE(bli::utf16_string("Ab1", out, sizeof(out), &len));
    EXPECT_EQ(std::vector<uint8_t>(out, out + len), bytes({'A', 0, 'b', 0, '1', 0, 0, 0}));
    EXPECT_EQ(bli::utf16_string("toolong", out, 15, &len).code(), kho::Err::Capacity);
}

TEST(BootLoaderInterface, EntriesAreEachNulTerminatedOneAfterTheOther) {
    const char* ids[] = {"a", "linux-2"};
    uint8_t out[64];
    size_t len = 0;
    ASSERT_TRUE(bli::entries_list(ids, 2, out, sizeof(out), &len));
    std::vector<uint8_t> want = u16(u"a"), second = u16(u"linux-2");
    want.insert(want.end(), second.begin(), second.end());
    EXPECT_EQ(std::vector<uint8_t>(out, out + len), want);
}

TEST(BootLoaderInterface, ValuesFromTheOsAreReadAsAscii) {
    std::vector<uint8_t> v = u16(u"tk");
    char out[16];
    ASSERT_TRUE(bli::ascii_from_utf16(v.data(), v.size(), out, sizeof(out)));
    EXPECT_STREQ(out, "tk");
    // Without the NUL (some writers leave it off) the value ends with the data.
    ASSERT_TRUE(bli::ascii_from_utf16(v.data(), 4, out, sizeof(out)));
    EXPECT_STREQ(out, "tk");
    std::vector<uint8_t> accented = u16(u"t\u00e9");
    EXPECT_FALSE(bli::ascii_from_utf16(accented.data(), accented.size(), out, sizeof(out)));
    EXPECT_FALSE(bli::ascii_from_utf16(v.data(), 3, out, sizeof(out)));
}

TEST(BootLoaderInterface, FirmwareTypeAndInfoAsSystemdBootPrintsThem) {
    char out[64];
    bli::firmware_type((2u << 16) | 70, out, sizeof(out));  // EFI_2_70_SYSTEM_TABLE_REVISION
    EXPECT_STREQ(out, "UEFI 2.70");
    bli::firmware_type((2u << 16) | 100, out, sizeof(out));  // UEFI 2.10
    EXPECT_STREQ(out, "UEFI 2.100");
    bli::firmware_info("EDK II", 0x10000, out, sizeof(out));  // OVMF's vendor and revision
    EXPECT_STREQ(out, "EDK II 1.00");
}

TEST(BootLoaderInterface, GuidInNormalSyntaxUpperCase) {
    // The ESP type GUID C12A7328-F81F-11D2-BA4B-00A0C93EC93B in EFI byte order.
    const uint8_t g[16] = {0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11,
                           0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b};
    char out[40];
    bli::guid_string(g, out, sizeof(out));
    EXPECT_STREQ(out, "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
}

// A device path as the firmware hands it over: PciRoot, the disk, the
// GPT partition, then the end node (UEFI 2.10 section 10.3).
std::vector<uint8_t> disk_path(uint8_t signature_type, const uint8_t sig[16]) {
    std::vector<uint8_t> p = {2, 1, 12, 0, 0xd0, 0x41, 0x03, 0x0a, 0, 0, 0, 0};  // ACPI PNP0A03
    std::vector<uint8_t> hd(42, 0);
    hd[0] = 4, hd[1] = 1, hd[2] = 42;  // media, hard drive, length 42
    hd[4] = 1;                         // partition 1
    memcpy(&hd[24], sig, 16);
    hd[40] = 2;  // MBRType: GPT
    hd[41] = signature_type;
    p.insert(p.end(), hd.begin(), hd.end());
    p.insert(p.end(), {0x7f, 0xff, 4, 0});
    return p;
}

TEST(BootLoaderInterface, ThePartitionGuidComesFromTheHardDriveNode) {
    const uint8_t sig[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    uint8_t got[16];
    std::vector<uint8_t> p = disk_path(2, sig);
    ASSERT_TRUE(bli::device_path_partition_guid(p.data(), p.size(), got));
    EXPECT_EQ(memcmp(got, sig, 16), 0);
    std::vector<uint8_t> mbr = disk_path(1, sig);  // an MBR signature is no GUID
    EXPECT_FALSE(bli::device_path_partition_guid(mbr.data(), mbr.size(), got));
}

std::vector<uint8_t> file_node(const std::u16string& s) {
    std::vector<uint8_t> name = u16(s);
    std::vector<uint8_t> n = {4, 4, uint8_t(4 + name.size()), 0};
    n.insert(n.end(), name.begin(), name.end());
    return n;
}

TEST(BootLoaderInterface, TheImagePathJoinsTheFilePathNodes) {
    std::vector<uint8_t> p = file_node(u"\\EFI\\BOOT\\BOOTX64.EFI");
    p.insert(p.end(), {0x7f, 0xff, 4, 0});
    char out[64];
    ASSERT_TRUE(bli::device_path_file(p.data(), p.size(), out, sizeof(out)));
    EXPECT_STREQ(out, "\\EFI\\BOOT\\BOOTX64.EFI");
    std::vector<uint8_t> split = file_node(u"\\EFI\\khoboot");
    std::vector<uint8_t> leaf = file_node(u"khoboot.efi");
    split.insert(split.end(), leaf.begin(), leaf.end());
    split.insert(split.end(), {0x7f, 0xff, 4, 0});
    ASSERT_TRUE(bli::device_path_file(split.data(), split.size(), out, sizeof(out)));
    EXPECT_STREQ(out, "\\EFI\\khoboot\\khoboot.efi");
}

TEST(BootLoaderInterface, EntryChoiceFollowsSystemdBootsOrder) {
    const char* ids[] = {"a", "b", "c"};
    using S = bli::EntrySource;
    EXPECT_EQ(bli::choose_entry_source("c", "b", "a", ids, 3), S::LoadOptions);
    EXPECT_EQ(bli::choose_entry_source("", "b", "a", ids, 3), S::OneShot);
    EXPECT_EQ(bli::choose_entry_source("", "", "a", ids, 3), S::OsDefault);
    EXPECT_EQ(bli::choose_entry_source("", "", "?", ids, 3), S::OsDefault);  // a glob, as loader.conf's
    EXPECT_EQ(bli::choose_entry_source("", "zz", "zz*", ids, 3), S::LoaderConf);  // stale: ignored
    EXPECT_EQ(bli::choose_entry_source("", "b*", "", ids, 3), S::LoaderConf);  // one-shot: an id, no glob
}

// --- whole boots against the model firmware ---

constexpr uint64_t kRamStart = 0x100000, kRamEnd = 0x10000000;

std::vector<uint8_t> text(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

struct Machine {
    FakeFirmware fw{kRamStart, kRamEnd};
    std::unique_ptr<kho::BootContext> ctx = std::make_unique<kho::BootContext>();
    kho::BootFacts facts;
    std::vector<uint8_t> device = disk_path(2, kPart);
    std::vector<uint8_t> image = file_node(u"\\EFI\\BOOT\\BOOTX64.EFI");
    std::u16string vendor = u"EDK II";
    static constexpr uint8_t kPart[16] = {0x78, 0x56, 0x34, 0x12, 0xbc, 0x9a, 0xf0, 0xde,
                                          0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};

    Machine() {
        fw.mem().add_backed(kRamStart, kRamEnd - kRamStart);
        fw.files["/vmlinuz"] = make_test_bzimage(0x1000000);
        for (const char* id : {"alpha", "beta", "gamma"})
            fw.files[std::string("/loader/entries/") + id + ".conf"] =
                text(std::string("title ") + id + "\nlinux /vmlinuz\n");
        fw.files["/loader/loader.conf"] = text("default beta\n");
        image.insert(image.end(), {0x7f, 0xff, 4, 0});
        vendor.push_back(0);
        facts.load_options = "";
        facts.loader_version = "1.2-test";
        facts.init_us = 1234567;
        facts.uefi_revision = (2u << 16) | 70;
        facts.firmware_vendor = reinterpret_cast<const uint16_t*>(vendor.data());
        facts.firmware_revision = 0x10000;
        facts.device_path = device.data();
        facts.image_path = image.data();
    }
    kho::BootVerdict boot() {
        kho::BootFlow flow(fw, *ctx, facts, kho::x86_protocol());
        return flow.run();
    }
    std::string selected() {
        kho::BootVerdict v = boot();
        EXPECT_EQ(v.outcome, BootOutcome::ColdBoot) << fw.log_text();
        auto it = fw.loader_vars.find("LoaderEntrySelected");
        if (it == fw.loader_vars.end()) return "(none)";
        std::string s;
        for (size_t i = 0; i + 1 < it->second.size() && it->second[i]; i += 2) s += char(it->second[i]);
        return s;
    }
    std::vector<uint8_t> var(const char* name) {
        auto it = fw.loader_vars.find(name);
        return it == fw.loader_vars.end() ? std::vector<uint8_t>() : it->second;
    }
};

TEST(BootLoaderInterface, ABootLeavesEveryVariableInThePublishedFormat) {
    Machine m;
    ASSERT_EQ(m.boot().outcome, BootOutcome::ColdBoot) << m.fw.log_text();
    EXPECT_EQ(m.var("LoaderInfo"), u16(u"khoboot 1.2-test"));
    EXPECT_EQ(m.var("LoaderFirmwareInfo"), u16(u"EDK II 1.00"));
    EXPECT_EQ(m.var("LoaderFirmwareType"), u16(u"UEFI 2.70"));
    EXPECT_EQ(m.var("LoaderTimeInitUSec"), u16(u"1234567"));
    // The menu's order: ids without a sort-key, newest version first
    // (systemd-analyze compare-versions: gamma > beta > alpha).
    std::vector<uint8_t> entries = u16(u"gamma"), b = u16(u"beta"), a = u16(u"alpha");
    entries.insert(entries.end(), b.begin(), b.end());
    entries.insert(entries.end(), a.begin(), a.end());
    EXPECT_EQ(m.var("LoaderEntries"), entries);
    EXPECT_EQ(m.var("LoaderEntrySelected"), u16(u"beta"));
    EXPECT_EQ(m.var("LoaderEntryDefault"), u16(u"beta"));
    EXPECT_EQ(m.var("LoaderDevicePartUUID"), u16(u"12345678-9ABC-DEF0-0123-456789ABCDEF"));
    EXPECT_EQ(m.var("LoaderImageIdentifier"), u16(u"\\EFI\\BOOT\\BOOTX64.EFI"));
    // Bits 2 and 3: LoaderEntryDefault and LoaderEntryOneShot are honoured.
    EXPECT_EQ(m.var("LoaderFeatures"), bytes({0x0c, 0, 0, 0, 0, 0, 0, 0}));
    // Exec: init plus the loader's own time, a decimal string too.
    std::vector<uint8_t> exec = m.var("LoaderTimeExecUSec");
    std::string digits;
    for (size_t i = 0; i + 1 < exec.size() && exec[i]; i += 2) digits += char(exec[i]);
    ASSERT_FALSE(digits.empty());
    EXPECT_EQ(digits.find_first_not_of("0123456789"), std::string::npos) << digits;
    EXPECT_GE(std::stoull(digits), 1234567u);
    EXPECT_EQ(exec, u16(std::u16string(digits.begin(), digits.end())));
}

TEST(BootLoaderInterface, NoPartitionNodeNoPartUuid) {
    Machine m;
    m.device = {0x7f, 0xff, 4, 0};
    m.facts.device_path = m.device.data();
    ASSERT_EQ(m.boot().outcome, BootOutcome::ColdBoot);
    EXPECT_TRUE(m.var("LoaderDevicePartUUID").empty());
}

TEST(BootLoaderInterface, OneShotBootsItsEntryOnceAndIsDeleted) {
    Machine m;
    m.fw.loader_vars["LoaderEntryOneShot"] = u16(u"gamma");
    EXPECT_EQ(m.selected(), "gamma");
    EXPECT_EQ(m.fw.loader_vars.count("LoaderEntryOneShot"), 0u);
    EXPECT_EQ(m.var("LoaderEntryDefault"), u16(u"beta"));  // the default is still loader.conf's
    EXPECT_EQ(m.selected(), "beta");
}

TEST(BootLoaderInterface, OneShotSkipsTheMenu) {
    Machine m;
    m.fw.files["/loader/loader.conf"] = text("default beta\ntimeout 5\n");
    m.fw.loader_vars["LoaderEntryOneShot"] = u16(u"alpha");
    EXPECT_EQ(m.selected(), "alpha");
    EXPECT_FALSE(m.fw.logged("menu 1 ")) << m.fw.log_text();
}

TEST(BootLoaderInterface, AOneShotNamingNoEntryIsIgnoredAndStillDeleted) {
    Machine m;
    m.fw.loader_vars["LoaderEntryOneShot"] = u16(u"gone");
    EXPECT_EQ(m.selected(), "beta");
    EXPECT_EQ(m.fw.loader_vars.count("LoaderEntryOneShot"), 0u);
    EXPECT_TRUE(m.fw.logged("warn LoaderEntryOneShot 'gone' names no entry: ignored")) << m.fw.log_text();
}

// Consumed before the entry is tried: a one-shot entry that cannot boot
// is not chosen again by the next boot.
TEST(BootLoaderInterface, AOneShotEntryThatFailsIsNotRetried) {
    Machine m;
    m.fw.files["/loader/entries/gamma.conf"] = text("title gamma\nlinux /missing\n");
    m.fw.loader_vars["LoaderEntryOneShot"] = u16(u"gamma");
    EXPECT_EQ(m.boot().outcome, BootOutcome::Exit);
    EXPECT_EQ(m.fw.loader_vars.count("LoaderEntryOneShot"), 0u);
    EXPECT_EQ(m.selected(), "beta");
}

TEST(BootLoaderInterface, TheOsDefaultOverridesLoaderConfAndIsLeftAlone) {
    Machine m;
    m.fw.loader_vars["LoaderEntryDefault"] = u16(u"alpha");
    EXPECT_EQ(m.selected(), "alpha");
    EXPECT_EQ(m.var("LoaderEntryDefault"), u16(u"alpha"));
    EXPECT_EQ(m.selected(), "alpha");  // not consumed
    m.fw.loader_vars["LoaderEntryDefault"] = u16(u"g*");  // a glob
    EXPECT_EQ(m.selected(), "gamma");
}

// Regression: after an exit, the loader the boot manager starts next (a
// second khoboot) read the first one's volatile LoaderEntryDefault report
// as the OS's setting. Only a non-volatile LoaderEntryDefault is the OS's.
TEST(BootLoaderInterface, AVolatileLoaderEntryDefaultIsAReportNotASetting) {
    Machine m;
    m.fw.loader_vars["LoaderEntryDefault"] = u16(u"alpha");
    m.fw.volatile_loader_vars.insert("LoaderEntryDefault");
    EXPECT_EQ(m.selected(), "beta");
    EXPECT_FALSE(m.fw.logged("warn LoaderEntryDefault")) << m.fw.log_text();
    EXPECT_EQ(m.var("LoaderEntryDefault"), u16(u"beta"));  // this boot's report replaces it
}

TEST(BootLoaderInterface, LoadOptionsStillWinOverTheOsVariables) {
    Machine m;
    m.facts.load_options = "alpha";
    m.fw.loader_vars["LoaderEntryOneShot"] = u16(u"gamma");
    EXPECT_EQ(m.selected(), "alpha");
    EXPECT_EQ(m.fw.loader_vars.count("LoaderEntryOneShot"), 0u);
}

}  // namespace
