// Boot Loader Specification entries, loader.conf, load options and the
// KHO policy decision.
#include <gtest/gtest.h>
#include <string.h>

#include <string>
#include <vector>

#include "loader/boot_entry.h"

namespace {

using kho::BootEntry;
using kho::Err;
using kho::KhoAction;
using kho::KhoMode;
using kho::KhoOnError;

struct Collect : kho::ConfigWarnings {
    std::vector<std::string> lines;
    void warn(const char* file, unsigned line, const char* message) override {
        lines.push_back(std::string(file) + ":" + std::to_string(line) + ": " + message);
    }
};

kho::Status parse_entry(const std::string& text, BootEntry* e, Collect* w = nullptr,
                        const char* file = "entries/a.conf") {
    kho::init_boot_entry(e, "a");
    return kho::parse_boot_entry(file, text.data(), text.size(), e, w);
}

TEST(BootEntry, ParsesBlsKeys) {
    BootEntry e;
    Collect w;
    ASSERT_TRUE(parse_entry("# comment\n"
                            "title   Debian 12\n"
                            "version 6.1\n"
                            "linux /debian/vmlinuz\r\n"
                            "initrd /debian/initrd.img\n"
                            "initrd /debian/extra.cpio\n"
                            "options root=/dev/sda1 ro\n"
                            "options quiet\n"
                            "\n   \t\n",
                            &e, &w));
    EXPECT_STREQ(e.title, "Debian 12");
    EXPECT_STREQ(e.linux_path, "/debian/vmlinuz");
    ASSERT_EQ(e.initrd_count, 2u);
    EXPECT_STREQ(e.initrd[1], "/debian/extra.cpio");
    EXPECT_STREQ(e.options, "root=/dev/sda1 ro quiet");
    EXPECT_EQ(e.kho, KhoMode::Auto);
    EXPECT_EQ(e.kho_on_error, KhoOnError::ColdBoot);
    EXPECT_EQ(e.kho_verify, kho::KhoVerify::Auto);
    EXPECT_TRUE(w.lines.empty());
}

TEST(BootEntry, KhoVerifyLevels) {
    const std::pair<const char*, kho::KhoVerify> cases[] = {
        {"auto", kho::KhoVerify::Auto},
        {"off", kho::KhoVerify::Off},
        {"metadata", kho::KhoVerify::Metadata},
        {"full", kho::KhoVerify::Full},
    };
    for (const auto& [word, level] : cases) {
        BootEntry e;
        ASSERT_TRUE(parse_entry(std::string("linux /k\nkho-verify ") + word + "\n", &e)) << word;
        EXPECT_EQ(e.kho_verify, level) << word;
        EXPECT_STREQ(kho::kho_verify_name(level), word);
    }
    // The last line wins, as for every scalar key.
    BootEntry e;
    ASSERT_TRUE(parse_entry("linux /k\nkho-verify full\nkho-verify off\n", &e));
    EXPECT_EQ(e.kho_verify, kho::KhoVerify::Off);
}

TEST(LoadOptions, KhoVerifyOverride) {
    kho::LoadOptions o;
    std::string t = "tk kho-verify=full";
    ASSERT_TRUE(kho::parse_load_options(t.data(), t.size(), &o));
    BootEntry e;
    ASSERT_TRUE(parse_entry("linux /k\nkho-verify off\n", &e));
    ASSERT_TRUE(kho::apply_load_options(o, &e, nullptr));
    EXPECT_EQ(e.kho_verify, kho::KhoVerify::Full);
    t = "kho-verify=paranoid";
    ASSERT_TRUE(kho::parse_load_options(t.data(), t.size(), &o));
    kho::Status s = kho::apply_load_options(o, &e, nullptr);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.code(), Err::BadEntry);
    EXPECT_NE(std::string(s.message()).find("load-options:1: kho-verify must be auto, off, metadata or "
                                            "full, not 'paranoid'"),
              std::string::npos)
        << s.message();
}

TEST(BootEntry, ParsesKhoKeys) {
    BootEntry e;
    ASSERT_TRUE(parse_entry("linux /k\nkho required\nkho-on-error halt\nkho-fdt 0x20000000\n"
                            "kho-scratch 0x40000000:256M, 0x100000000:0x200000\n"
                            "kho-scratch 0x200000000:1G\n",
                            &e));
    EXPECT_EQ(e.kho, KhoMode::Required);
    EXPECT_EQ(e.kho_on_error, KhoOnError::Halt);
    EXPECT_EQ(e.kho_fdt, 0x20000000u);
    ASSERT_EQ(e.kho_scratch_count, 3u);
    EXPECT_EQ(e.kho_scratch[0].addr, 0x40000000u);
    EXPECT_EQ(e.kho_scratch[0].size, 256u << 20);
    EXPECT_EQ(e.kho_scratch[1].addr, 0x100000000u);
    EXPECT_EQ(e.kho_scratch[2].size, 1ull << 30);
}

TEST(BootEntry, UnknownKeysAreWarningsWithFileAndLine) {
    BootEntry e;
    Collect w;
    ASSERT_TRUE(parse_entry("linux /k\nfrobnicate yes\ndevicetree /x.dtb\n", &e, &w));
    ASSERT_EQ(w.lines.size(), 2u);
    EXPECT_EQ(w.lines[0], "entries/a.conf:2: unknown key 'frobnicate' ignored");
    EXPECT_NE(w.lines[1].find("entries/a.conf:3: key 'devicetree'"), std::string::npos);
}

struct BadEntry {
    const char* text;
    const char* message;
};

class BootEntryRefuses : public ::testing::TestWithParam<BadEntry> {};

TEST_P(BootEntryRefuses, NamingFileAndLine) {
    BootEntry e;
    kho::Status s = parse_entry(GetParam().text, &e);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.code(), Err::BadEntry);
    EXPECT_NE(std::string(s.message()).find(GetParam().message), std::string::npos) << s.message();
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BootEntryRefuses,
    ::testing::Values(
        BadEntry{"title x\n", "entries/a.conf: no 'linux' line"},
        BadEntry{"linux /k\nkho maybe\n", "entries/a.conf:2: kho must be auto, off or required, not 'maybe'"},
        BadEntry{"linux /k\n\nkho-on-error reboot\n", "entries/a.conf:3: kho-on-error must be"},
        BadEntry{"linux /k\nkho-verify yes\n", "entries/a.conf:2: kho-verify must be auto, off, metadata or full, not 'yes'"},
        BadEntry{"linux /k\nkho-verify Full\n", "kho-verify must be"},
        BadEntry{"linux /k\nkho-fdt 0x1001\n", "entries/a.conf:2: kho-fdt wants a page-aligned"},
        BadEntry{"linux /k\nkho-fdt banana\n", "kho-fdt wants a page-aligned address, got 'banana'"},
        BadEntry{"linux /k\nkho-fdt 0x99999999999999999999\n", "kho-fdt wants"},
        BadEntry{"linux /k\nkho-fdt 0x1000\nkho-scratch 0x1000\n", "kho-scratch wants addr:size"},
        BadEntry{"linux /k\nkho-fdt 0x1000\nkho-scratch 0x1000:0\n", "empty, wrapping or not page aligned"},
        BadEntry{"linux /k\nkho-fdt 0x1000\nkho-scratch 0xfffffffffffff000:0x2000\n", "wrapping"},
        BadEntry{"linux /k\nkho-scratch 0x1000:0x1000\n", "kho-scratch without kho-fdt"},
        BadEntry{"linux /k\nkho-fdt 0x1000\nkho-scratch 0x40000000:64M 0x42000000:2M\n",
                 "entries/a.conf: kho-scratch 0x40000000+0x4000000 overlaps 0x42000000+0x200000"},
        BadEntry{"linux /k\ninitrd\n", "entries/a.conf:2: key without a value: 'initrd'"},
        BadEntry{"linux /../../etc\n", "bad linux path"},
        BadEntry{"linux \\EFI\\k\n", "bad linux path"},
        BadEntry{"linux /k\ninitrd /a\ninitrd /a\ninitrd /a\ninitrd /a\ninitrd /a\ninitrd /a\n"
                 "initrd /a\ninitrd /a\ninitrd /a\n",
                 "entries/a.conf:10: too many initrd lines"}));

TEST(BootEntry, RefusesNulBytes) {
    BootEntry e;
    std::string text("linux /k\ntitle a\0b\n", 19);
    kho::Status s = parse_entry(text, &e);
    ASSERT_FALSE(s);
    EXPECT_NE(std::string(s.message()).find("entries/a.conf:2: NUL byte"), std::string::npos);
}

TEST(BootEntry, RefusesOverlongOptions) {
    BootEntry e;
    std::string text = "linux /k\n";
    for (int i = 0; i < 30; i++) text += "options " + std::string(100, 'x') + "\n";
    kho::Status s = parse_entry(text, &e);
    ASSERT_FALSE(s);
    EXPECT_NE(std::string(s.message()).find("options longer than 2047"), std::string::npos);
}

TEST(BootEntry, TooManyScratchRegions) {
    BootEntry e;
    std::string text = "linux /k\nkho-fdt 0x1000\nkho-scratch";
    for (int i = 0; i < 17; i++) text += " 0x" + std::to_string(i + 1) + "000000:2M";
    kho::Status s = parse_entry(text + "\n", &e);
    ASSERT_FALSE(s);
    EXPECT_NE(std::string(s.message()).find("too many kho-scratch regions"), std::string::npos);
}

TEST(LoaderConf, DefaultAndTimeout) {
    kho::LoaderConf c;
    Collect w;
    std::string t = "default debian-*\ntimeout 3\neditor no\nfoo bar\n";
    ASSERT_TRUE(kho::parse_loader_conf("loader.conf", t.data(), t.size(), &c, &w));
    EXPECT_STREQ(c.default_pattern, "debian-*");
    EXPECT_EQ(c.timeout_seconds, 3u);
    ASSERT_EQ(w.lines.size(), 2u);
    EXPECT_EQ(w.lines[1], "loader.conf:4: unknown key 'foo' ignored");
    t = "timeout forever\n";
    kho::Status s = kho::parse_loader_conf("loader.conf", t.data(), t.size(), &c, &w);
    ASSERT_FALSE(s);
    EXPECT_NE(std::string(s.message()).find("loader.conf:1: timeout must be"), std::string::npos);
}

// khoboot-uart: the UART a lab machine's serial-over-LAN listens on.
kho::Status parse_conf(const std::string& t, kho::LoaderConf* c) {
    return kho::parse_loader_conf("loader.conf", t.data(), t.size(), c, nullptr);
}

TEST(LoaderConf, KhobootUartForms) {
    kho::LoaderConf c;
    ASSERT_TRUE(parse_conf("timeout 0\n", &c));
    EXPECT_EQ(c.uart.kind, kho::UartKind::None);
    ASSERT_TRUE(parse_conf("khoboot-uart io:0x2f8,115200\n", &c));
    EXPECT_EQ(c.uart.kind, kho::UartKind::Io);
    EXPECT_EQ(c.uart.base, 0x2f8u);
    EXPECT_EQ(c.uart.baud, 115200u);
    ASSERT_TRUE(parse_conf("khoboot-uart mmio:0xfe001000,9600\n", &c));
    EXPECT_EQ(c.uart.kind, kho::UartKind::Mmio);
    EXPECT_EQ(c.uart.base, 0xfe001000u);
    EXPECT_EQ(c.uart.baud, 9600u);
    ASSERT_TRUE(parse_conf("khoboot-uart mmio32:0xFE001000\n", &c));
    EXPECT_EQ(c.uart.kind, kho::UartKind::Mmio32);
    EXPECT_EQ(c.uart.base, 0xfe001000u);
    EXPECT_EQ(c.uart.baud, 0u);  // keep the firmware's divisor
    ASSERT_TRUE(parse_conf("khoboot-uart io:760\n", &c));
    EXPECT_EQ(c.uart.base, 0x2f8u);
}

TEST(LoaderConf, KhobootUartRefusesWhatCannotBeAUart) {
    struct Case {
        const char* line;
        const char* says;
    } cases[] = {
        {"khoboot-uart 0x2f8", "wants io:, mmio: or mmio32:"},
        {"khoboot-uart com2", "wants io:"},
        {"khoboot-uart io:", "address is not a number"},
        {"khoboot-uart io:0x2f8g", "address is not a number"},
        {"khoboot-uart io:-1", "address is not a number"},
        {"khoboot-uart io:0xfff9", "no room for 8 registers"},
        {"khoboot-uart io:0x2f8,", "baud is not a number"},
        {"khoboot-uart io:0x2f8,0", "baud is not a number"},
        {"khoboot-uart io:0x2f8,115200n8", "baud is not a number"},
        {"khoboot-uart io:0x2f8,7", "baud does not divide 115200"},
        {"khoboot-uart io:0x2f8,230400", "baud does not divide 115200"},
        {"khoboot-uart mmio:0", "MMIO address 0"},
        {"khoboot-uart mmio32:0xfe001002", "not 4-byte aligned"},
        {"khoboot-uart mmio:0xfffffffffffffff0", "wraps"},
        {"khoboot-uart mmio:0x1ffffffffffffffff", "address is not a number"},
        {"khoboot-uart io:0x2f8\nkhoboot-uart io:0x3e8", "loader.conf:2: khoboot-uart given twice"},
    };
    for (const Case& k : cases) {
        kho::LoaderConf c;
        kho::Status s = parse_conf(std::string(k.line) + "\n", &c);
        EXPECT_EQ(s.code(), Err::BadEntry) << k.line;
        EXPECT_NE(std::string(s.message()).find(k.says), std::string::npos) << k.line << ": " << s.message();
    }
}

TEST(LoadOptions, EntryNameAndOverrides) {
    kho::LoadOptions o;
    std::string t = "\\EFI\\BOOT\\BOOTX64.EFI debian.conf kho=off options=\"console=ttyS0 quiet\" initrd=/a";
    ASSERT_TRUE(kho::parse_load_options(t.data(), t.size(), &o));
    EXPECT_STREQ(o.entry_id, "debian");
    ASSERT_EQ(o.override_count, 3u);
    EXPECT_STREQ(o.overrides[0].key, "kho");
    EXPECT_STREQ(o.overrides[1].value, "console=ttyS0 quiet");

    BootEntry e;
    ASSERT_TRUE(parse_entry("linux /k\ninitrd /x\ninitrd /y\noptions ro\n", &e));
    ASSERT_TRUE(kho::apply_load_options(o, &e, nullptr));
    EXPECT_EQ(e.kho, KhoMode::Off);
    EXPECT_STREQ(e.options, "console=ttyS0 quiet");
    ASSERT_EQ(e.initrd_count, 1u);
    EXPECT_STREQ(e.initrd[0], "/a");
}

TEST(LoadOptions, Errors) {
    kho::LoadOptions o;
    std::string t = "a b";
    kho::Status s = kho::parse_load_options(t.data(), t.size(), &o);
    ASSERT_FALSE(s);
    EXPECT_NE(std::string(s.message()).find("load-options:1: more than one entry"), std::string::npos);
    t = "options=\"unterminated";
    ASSERT_FALSE(kho::parse_load_options(t.data(), t.size(), &o));
    t = "kho=sometimes";
    ASSERT_TRUE(kho::parse_load_options(t.data(), t.size(), &o));
    BootEntry e;
    ASSERT_TRUE(parse_entry("linux /k\n", &e));
    s = kho::apply_load_options(o, &e, nullptr);
    ASSERT_FALSE(s);
    EXPECT_NE(std::string(s.message()).find("load-options:1: kho must be"), std::string::npos);
}

TEST(LoadOptions, Ucs2ToAscii) {
    char out[64];
    const char16_t text[] = u"debian kho=off";
    ASSERT_TRUE(kho::load_options_to_ascii(reinterpret_cast<const uint16_t*>(text), sizeof(text), out,
                                           sizeof(out)));
    EXPECT_STREQ(out, "debian kho=off");
    const uint16_t binary[] = {0x1234, 0x0001};
    EXPECT_FALSE(kho::load_options_to_ascii(binary, sizeof(binary), out, sizeof(out)));
    EXPECT_FALSE(kho::load_options_to_ascii(reinterpret_cast<const uint16_t*>(text), 3, out, sizeof(out)));
    EXPECT_TRUE(kho::load_options_to_ascii(nullptr, 0, out, sizeof(out)));
    EXPECT_STREQ(out, "");
}

TEST(Glob, Matches) {
    EXPECT_TRUE(kho::glob_match("*", "anything"));
    EXPECT_TRUE(kho::glob_match("debian-*", "debian-6.1"));
    EXPECT_TRUE(kho::glob_match("d?bian*.conf", "debian-6.1.conf"));
    EXPECT_FALSE(kho::glob_match("debian-*", "arch"));
    EXPECT_TRUE(kho::glob_match("a*b*c", "aXXbYYc"));
    EXPECT_FALSE(kho::glob_match("a*b*c", "aXXbYY"));
    EXPECT_TRUE(kho::glob_match("", ""));
    EXPECT_FALSE(kho::glob_match("", "x"));
    // Pathological pattern stays fast (no exponential backtracking).
    std::string s(5000, 'a');
    EXPECT_FALSE(kho::glob_match("*a*a*a*a*a*a*a*b", s.c_str()));
}

TEST(SelectEntry, RequestedDefaultAndFirst) {
    kho::LoaderConf c{};
    const char* ids[] = {"arch", "debian-6.1", "debian-7.2"};
    size_t i = 99;
    ASSERT_TRUE(kho::select_entry(c, ids, 3, "", &i));
    EXPECT_EQ(i, 0u);
    strcpy(c.default_pattern, "debian-*");
    ASSERT_TRUE(kho::select_entry(c, ids, 3, nullptr, &i));
    EXPECT_EQ(i, 1u);
    strcpy(c.default_pattern, "debian-7.2.conf");
    ASSERT_TRUE(kho::select_entry(c, ids, 3, nullptr, &i));
    EXPECT_EQ(i, 2u);
    ASSERT_TRUE(kho::select_entry(c, ids, 3, "arch", &i));
    EXPECT_EQ(i, 0u);
    kho::Status s = kho::select_entry(c, ids, 3, "gentoo", &i);
    ASSERT_FALSE(s);
    EXPECT_NE(std::string(s.message()).find("no entry named 'gentoo'"), std::string::npos);
    ASSERT_FALSE(kho::select_entry(c, ids, 0, nullptr, &i));
}

TEST(Menu, DigitsPickEntries) {
    size_t i = 99;
    EXPECT_TRUE(kho::menu_choice('1', 3, &i));
    EXPECT_EQ(i, 0u);
    EXPECT_TRUE(kho::menu_choice('3', 3, &i));
    EXPECT_EQ(i, 2u);
    EXPECT_FALSE(kho::menu_choice('4', 3, &i));
    EXPECT_FALSE(kho::menu_choice('0', 3, &i));
    EXPECT_FALSE(kho::menu_choice('\r', 3, &i));
    EXPECT_FALSE(kho::menu_choice(0x31 + 0x100, 3, &i));
}

TEST(KhoPolicy, Matrix) {
    using A = KhoAction;
    struct Row {
        KhoMode mode;
        KhoOnError on_error;
        bool found, usable;
        A want;
    } rows[] = {
        {KhoMode::Auto, KhoOnError::ColdBoot, false, false, A::ColdBoot},
        {KhoMode::Auto, KhoOnError::Halt, false, false, A::ColdBoot},
        {KhoMode::Auto, KhoOnError::ColdBoot, true, true, A::Handover},
        {KhoMode::Auto, KhoOnError::ColdBoot, true, false, A::ColdBoot},
        {KhoMode::Auto, KhoOnError::Halt, true, false, A::Halt},
        {KhoMode::Off, KhoOnError::Halt, true, true, A::ColdBoot},
        {KhoMode::Off, KhoOnError::Halt, true, false, A::ColdBoot},
        {KhoMode::Required, KhoOnError::ColdBoot, false, false, A::Halt},
        {KhoMode::Required, KhoOnError::ColdBoot, true, false, A::Halt},
        {KhoMode::Required, KhoOnError::ColdBoot, true, true, A::Handover},
    };
    for (const Row& r : rows)
        EXPECT_EQ(kho::decide_kho_action(r.mode, r.on_error, r.found, r.usable), r.want)
            << kho::kho_mode_name(r.mode) << " " << kho::kho_on_error_name(r.on_error) << " "
            << r.found << r.usable;
}

}  // namespace
