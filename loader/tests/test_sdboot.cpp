// systemd-boot's files as they are (issue 15): every loader.conf and
// type #1 key of systemd-boot 252, the Boot Loader Specification order,
// titles, `default @saved`, no cap on entries or ids, and unified kernel
// images (type #2, the `uki` key). Expected values come from systemd
// itself where it can answer on this machine (systemd-analyze
// compare-versions, Debian bookworm's systemd 252, for the version
// order; systemd-boot-efi's linuxx64.efi.stub with objcopy, the recipe of
// systemd's docs/UNIFIED_KERNEL_IMAGE, for UKIs) or are spelled out here.
#include <gtest/gtest.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "fake_firmware.h"
#include "loader/boot_entry.h"
#include "loader/boot_flow.h"
#include "loader/entry_list.h"
#include "loader/uki.h"
#include "loader/version_compare.h"

namespace {

using namespace khotest;
using kho::BootOutcome;

struct Collect : kho::ConfigWarnings {
    std::vector<std::string> lines;
    void warn(const char* file, unsigned line, const char* message) override {
        lines.push_back(std::string(file) + ":" + std::to_string(line) + ": " + message);
    }
};

// --- version order --------------------------------------------------------

TEST(VersionCompare, AgreesWithSystemdAnalyzeCompareVersions) {
    // Each row as `systemd-analyze compare-versions A B` (systemd 252)
    // answered: <, == or >.
    struct Row { const char* a; const char* b; int want; } rows[] = {
        {"1.0", "1.0~rc1", 1},       {"6.1.0-10", "6.1.0-9", 1},   {"1.0-1", "1.0.1-1", -1},
        {"1.0^1", "1.0", 1},         {"1.0^1", "1.0.1", -1},       {"abc", "abcde", -1},
        {"2", "a", 1},               {"001", "1", 0},              {"1_2", "1.2", 1},
        {"5.10.0-21-amd64", "5.10.0-3-amd64", 1}, {"1.0~rc1", "1.0~rc2", -1},
        {"1.0~rc1", "1", 1},         {"a~", "a", -1},              {"1.0", "1.0.", -1},
        {"1.0.a", "1.0.1", -1},      {"fc33", "fc4", 1},           {"1a", "1.a", 1},
        {"", "", 0},                 {"gamma", "beta", 1},         {"beta", "alpha", 1},
    };
    for (const Row& r : rows) {
        int got = kho::version_compare(r.a, r.b);
        EXPECT_EQ((got > 0) - (got < 0), r.want) << r.a << " vs " << r.b;
        int back = kho::version_compare(r.b, r.a);
        EXPECT_EQ((back > 0) - (back < 0), -r.want) << r.b << " vs " << r.a;
    }
    EXPECT_LT(kho::version_compare(nullptr, ""), 0);
    EXPECT_EQ(kho::version_compare(nullptr, nullptr), 0);
}

// --- loader.conf ---------------------------------------------------------

kho::Status conf(const std::string& t, kho::LoaderConf* c, Collect* w = nullptr) {
    return kho::parse_loader_conf("loader.conf", t.data(), t.size(), c, w);
}

// Issue 15: "timeout menu-force and timeout 3s are parse errors".
TEST(SdBootConf, TimeoutWordsAndSeconds) {
    kho::LoaderConf c;
    ASSERT_TRUE(conf("timeout menu-force\n", &c));
    EXPECT_EQ(c.timeout_mode, kho::TimeoutMode::MenuForce);
    ASSERT_TRUE(conf("timeout menu-hidden\n", &c));
    EXPECT_EQ(c.timeout_mode, kho::TimeoutMode::MenuHidden);
    EXPECT_EQ(c.timeout_seconds, 0u);
    ASSERT_TRUE(conf("timeout menu-disabled\n", &c));
    EXPECT_EQ(c.timeout_mode, kho::TimeoutMode::MenuDisabled);
    ASSERT_TRUE(conf("timeout 3s\n", &c));
    EXPECT_EQ(c.timeout_mode, kho::TimeoutMode::Seconds);
    EXPECT_EQ(c.timeout_seconds, 3u);
    ASSERT_TRUE(conf("timeout 7\n", &c));
    EXPECT_EQ(c.timeout_seconds, 7u);
    EXPECT_FALSE(conf("timeout s\n", &c));
    EXPECT_FALSE(conf("timeout 3m\n", &c));
    EXPECT_FALSE(conf("timeout menu\n", &c));
}

TEST(SdBootConf, EverySystemdBoot252KeyParsesOneWarningEachForThoseNotActedOn) {
    // loader.conf(5) of systemd 252, one line per key.
    const std::string t =
        "default @saved\n"
        "timeout 5\n"
        "console-mode keep\n"
        "editor no\n"
        "auto-entries yes\n"
        "auto-firmware no\n"
        "beep yes\n"
        "random-seed-mode with-system-token\n"
        "secure-boot-enroll manual\n"
        "reboot-for-bitlocker yes\n";
    kho::LoaderConf c;
    Collect w;
    ASSERT_TRUE(conf(t, &c, &w));
    EXPECT_TRUE(c.default_saved);
    EXPECT_EQ(c.timeout_seconds, 5u);
    ASSERT_EQ(w.lines.size(), 8u);
    const char* keys[] = {"console-mode", "editor", "auto-entries", "auto-firmware", "beep",
                          "random-seed-mode", "secure-boot-enroll", "reboot-for-bitlocker"};
    for (size_t i = 0; i < 8; i++)
        EXPECT_EQ(w.lines[i], "loader.conf:" + std::to_string(i + 3) + ": systemd-boot key '" + keys[i] +
                                  "' not acted on by khoboot, ignored");
}

// --- type #1 entries ---------------------------------------------------------

TEST(SdBootEntry, EveryType1KeyParses) {
    // The Boot Loader Specification's keys for type #1, as kernel-install
    // 252 writes them (90-loaderentry.install) plus the rest.
    const std::string t =
        "title      Debian GNU/Linux 12 (bookworm)\n"
        "version    6.1.0-10-amd64\n"
        "machine-id 0123456789abcdef0123456789abcdef\n"
        "sort-key   debian\n"
        "options    root=/dev/vda1 ro\n"
        "options    quiet\n"
        "linux      /0123456789abcdef0123456789abcdef/6.1.0-10-amd64/linux\n"
        "initrd     /0123456789abcdef0123456789abcdef/6.1.0-10-amd64/initrd.img-6.1.0-10-amd64\n"
        "initrd     /microcode.img\n"
        "architecture x64\n"
        "efi        /EFI/tools/shell.efi\n"
        "devicetree /dtb/board.dtb\n"
        "devicetree-overlay /dtb/o1.dtbo /dtb/o2.dtbo\n";
    kho::BootEntry e;
    kho::init_boot_entry(&e, "x");
    Collect w;
    ASSERT_TRUE(kho::parse_boot_entry("e.conf", t.data(), t.size(), &e, &w));
    EXPECT_STREQ(e.title, "Debian GNU/Linux 12 (bookworm)");
    EXPECT_STREQ(e.version, "6.1.0-10-amd64");
    EXPECT_STREQ(e.machine_id, "0123456789abcdef0123456789abcdef");
    EXPECT_STREQ(e.sort_key, "debian");
    EXPECT_STREQ(e.options, "root=/dev/vda1 ro quiet");
    EXPECT_EQ(e.initrd_count, 2u);
    EXPECT_STREQ(e.architecture, "x64");
    ASSERT_EQ(w.lines.size(), 3u);  // efi, devicetree, devicetree-overlay
    EXPECT_NE(w.lines[0].find("e.conf:11: key 'efi'"), std::string::npos) << w.lines[0];
    EXPECT_NE(w.lines[1].find("e.conf:12: key 'devicetree'"), std::string::npos);
    EXPECT_NE(w.lines[2].find("e.conf:13: key 'devicetree-overlay'"), std::string::npos);

    kho::init_boot_entry(&e, "y");
    std::string u = "uki /EFI/Linux/a.efi\narchitecture aa64\n";
    ASSERT_TRUE(kho::parse_boot_entry("u.conf", u.data(), u.size(), &e, nullptr));
    EXPECT_STREQ(e.uki, "/EFI/Linux/a.efi");
    EXPECT_STREQ(e.architecture, "aa64");
}

// --- order and titles ----------------------------------------------------------

TEST(SdBootOrder, SortKeyMachineIdVersionNewestFirstThenIds) {
    kho::MenuEntry e[6];
    e[0].id = "zzz-old-style-1";
    e[1].id = "zzz-old-style-2";
    e[2].id = "b";  e[2].sort_key = "fedora"; e[2].version = "6.1";
    e[3].id = "a";  e[3].sort_key = "debian"; e[3].machine_id = "m2"; e[3].version = "6.1";
    e[4].id = "c";  e[4].sort_key = "debian"; e[4].machine_id = "m1"; e[4].version = "6.1.0-9";
    e[5].id = "d";  e[5].sort_key = "debian"; e[5].machine_id = "m1"; e[5].version = "6.1.0-10";
    kho::bls_sort(e, 6);
    const char* want[] = {"d", "c", "a", "b", "zzz-old-style-2", "zzz-old-style-1"};
    for (size_t i = 0; i < 6; i++) EXPECT_STREQ(e[i].id, want[i]) << i;
}

// --- whole boots against the model firmware ---------------------------------------

std::vector<uint8_t> text(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

constexpr uint64_t kRamStart = 0x100000, kRamEnd = 0x10000000;

struct Machine {
    FakeFirmware fw{kRamStart, kRamEnd};
    std::unique_ptr<kho::BootContext> ctx = std::make_unique<kho::BootContext>();
    kho::BootFacts facts;
    std::unique_ptr<kho::BootFlow> flow;
    Machine() {
        fw.mem().add_backed(kRamStart, kRamEnd - kRamStart);
        fw.files["/vmlinuz"] = make_test_bzimage(0x1000000);
        facts.load_options = "";
    }
    void entry(const std::string& id, const std::string& body) {
        fw.files["/loader/entries/" + id + ".conf"] = text(body + "linux /vmlinuz\n");
    }
    kho::BootVerdict boot() {
        flow = std::make_unique<kho::BootFlow>(fw, *ctx, facts, kho::x86_protocol());
        return flow->run();
    }
    std::string selected() {
        kho::BootVerdict v = boot();
        EXPECT_EQ(v.outcome, BootOutcome::ColdBoot) << fw.log_text();
        return ctx->entry.id;
    }
    std::string utf16_var(const char* name) {
        auto it = fw.loader_vars.find(name);
        std::string s;
        if (it == fw.loader_vars.end()) return "(none)";
        for (size_t i = 0; i + 1 < it->second.size() && it->second[i]; i += 2) s += char(it->second[i]);
        return s;
    }
    void os_var(const char* name, const std::string& v) {  // non-volatile, as the OS or systemd-boot left it
        std::vector<uint8_t> b;
        for (char c : v) b.insert(b.end(), {uint8_t(c), 0});
        b.insert(b.end(), {0, 0});
        fw.loader_vars[name] = b;
    }
};

// Issue 15: "the default falls back to the oldest entry by name instead of
// BLS ordering".
TEST(SdBootFlow, WithoutDefaultTheFirstInBlsOrderBoots) {
    Machine m;
    m.entry("linux-5.10", "title old\n");
    m.entry("linux-6.1", "title new\n");
    EXPECT_EQ(m.selected(), "linux-6.1");
    Machine k;  // sort-key entries come before those without
    k.entry("aaa", "title no key\n");
    k.entry("zzz-6.1", "sort-key debian\nversion 6.1\n");
    k.entry("zzz-6.5", "sort-key debian\nversion 6.5\n");
    EXPECT_EQ(k.selected(), "zzz-6.5");
}

// Issue 15: "@saved matches nothing".
TEST(SdBootFlow, DefaultSavedBootsTheLastBootedAndSavesTheChoice) {
    Machine m;
    m.entry("a", "title A\n");
    m.entry("b", "title B\n");
    m.fw.files["/loader/loader.conf"] = text("default @saved\n");
    m.os_var("LoaderEntryLastBooted", "a.conf");  // systemd-boot's id form
    EXPECT_EQ(m.selected(), "a");
    EXPECT_TRUE(m.fw.logged("default @saved entry=a"));
    // Load options pick b: b is saved, non-volatile, for the next boot.
    m.facts.load_options = "b";
    EXPECT_EQ(m.selected(), "b");
    EXPECT_EQ(m.utf16_var("LoaderEntryLastBooted"), "b");
    EXPECT_EQ(m.fw.volatile_loader_vars.count("LoaderEntryLastBooted"), 0u);
    m.facts.load_options = "";
    EXPECT_EQ(m.selected(), "b");
    // Without @saved nothing is saved.
    Machine n;
    n.entry("a", "");
    n.entry("b", "");
    n.selected();
    EXPECT_EQ(n.fw.loader_vars.count("LoaderEntryLastBooted"), 0u);
}

// `bootctl set-default @saved` writes LoaderEntryDefault "@saved".
TEST(SdBootFlow, LoaderEntryDefaultSavedActsAsDefaultSaved) {
    Machine m;
    m.entry("a", "");
    m.entry("b", "");
    m.os_var("LoaderEntryDefault", "@saved");
    m.os_var("LoaderEntryLastBooted", "a");
    EXPECT_EQ(m.selected(), "a");
    EXPECT_FALSE(m.fw.logged("names no entry")) << m.fw.log_text();
}

// `bootctl set-oneshot` names systemd-boot's id, "<name>.conf".
TEST(SdBootFlow, OneShotWithSystemdBootsIdForm) {
    Machine m;
    m.entry("a", "");
    m.entry("b", "");
    m.os_var("LoaderEntryOneShot", "a.conf");
    EXPECT_EQ(m.selected(), "a");
    EXPECT_TRUE(m.fw.logged("entry-source one-shot")) << m.fw.log_text();
}

// Issue 15: "the menu shows ids instead of title".
TEST(SdBootFlow, TheMenuShowsTitlesDisambiguatedAsSystemdBoot) {
    Machine m;
    m.entry("debian-6.1", "title Debian\nversion 6.1\n");
    m.entry("debian-6.5", "title Debian\nversion 6.5\n");
    m.entry("rescue", "");
    m.fw.files["/loader/loader.conf"] = text("timeout 1s\n");
    EXPECT_EQ(m.selected(), "rescue");  // no sort-key: ids newest first, "rescue" > "debian-*"
    EXPECT_TRUE(m.fw.logged("menu 1 rescue (default)")) << m.fw.log_text();
    EXPECT_TRUE(m.fw.logged("menu 2 Debian (6.5)")) << m.fw.log_text();
    EXPECT_TRUE(m.fw.logged("menu 3 Debian (6.1)")) << m.fw.log_text();
}

TEST(SdBootFlow, MenuForceWaitsForAKey) {
    Machine m;
    m.entry("a", "title A\n");
    m.entry("b", "title B\n");
    m.fw.files["/loader/loader.conf"] = text("timeout menu-force\n");
    m.fw.keys = {'2'};
    EXPECT_EQ(m.selected(), "a");  // order b, a: '2' is a
    EXPECT_TRUE(m.fw.logged("watchdog seconds=0 step=menu"));
    Machine h;
    h.entry("a", "");
    h.fw.files["/loader/loader.conf"] = text("timeout menu-hidden\n");
    h.fw.keys = {'1'};
    EXPECT_EQ(h.selected(), "a");
    EXPECT_FALSE(h.fw.logged("menu 1")) << "menu-hidden shows no menu";
}

// Issue 15: "more than 64 entries is an error, and ids of 64 or more
// characters are dropped without a warning".
TEST(SdBootFlow, NoCapOnEntriesOrIdLength) {
    Machine m;
    const std::string pad(120, 'x');
    for (int i = 0; i < 150; i++) m.entry(pad + "-" + std::to_string(i), "");
    EXPECT_EQ(m.selected(), pad + "-149");  // newest version first
    EXPECT_TRUE(m.fw.logged("entries=150")) << m.fw.log_text();
    // LoaderEntries lists all 150, each with its NUL.
    size_t utf16_bytes = 0;
    for (int i = 0; i < 150; i++) utf16_bytes += 2 * (pad.size() + 1 + std::to_string(i).size() + 1);
    EXPECT_EQ(m.fw.loader_vars["LoaderEntries"].size(), utf16_bytes);
    std::string opt = pad + "-7";
    m.facts.load_options = opt.c_str();
    EXPECT_EQ(m.selected(), opt);
}

TEST(SdBootFlow, ForeignArchitectureEntriesAreNotListed) {
    Machine m;
    m.entry("z-arm", "architecture aa64\n");
    m.entry("a-x86", "architecture X64\n");
    EXPECT_EQ(m.selected(), "a-x86");
    EXPECT_TRUE(m.fw.logged("for architecture aa64, not x64: not listed"));
}

// --- unified kernel images ------------------------------------------------------------

constexpr char kStub[] = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";

std::vector<uint8_t> slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

void spit(const std::string& path, const std::vector<uint8_t>& b) {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

// A UKI as systemd 252's docs build one: objcopy adds the sections to
// systemd-stub. Empty when the stub (Debian systemd-boot-efi) is missing.
std::vector<uint8_t> make_uki(const std::vector<uint8_t>& kernel, const std::string& osrel,
                              const std::string& cmdline, const std::vector<uint8_t>& initrd) {
    if (access(kStub, R_OK) != 0) return {};
    char dir[] = "/tmp/khoboot-uki-XXXXXX";
    if (!mkdtemp(dir)) return {};
    std::string d = dir;
    spit(d + "/linux", kernel);
    spit(d + "/osrel", text(osrel));
    spit(d + "/cmdline", text(cmdline));
    spit(d + "/initrd", initrd);
    std::string cmd = "objcopy --add-section .osrel=" + d + "/osrel --change-section-vma .osrel=0x20000"
                      " --add-section .cmdline=" + d + "/cmdline --change-section-vma .cmdline=0x30000"
                      " --add-section .linux=" + d + "/linux --change-section-vma .linux=0x2000000"
                      " --add-section .initrd=" + d + "/initrd --change-section-vma .initrd=0x3000000 " +
                      kStub + " " + d + "/uki.efi";
    std::vector<uint8_t> out;
    if (system(cmd.c_str()) == 0) out = slurp(d + "/uki.efi");
    std::string rm = "rm -rf " + d;
    (void)!system(rm.c_str());
    return out;
}

const char kOsRelease[] = "NAME=\"Debian GNU/Linux\"\nID=debian\nPRETTY_NAME='Debian GNU/Linux 12 (bookworm)'\n"
                          "VERSION_ID=\"12\"\n";

TEST(Uki, SectionsOfAnObjcopyBuiltUkiAreFound) {
    std::vector<uint8_t> kernel = make_test_bzimage(0x1000000), initrd(5000, 0x5a);
    std::vector<uint8_t> uki = make_uki(kernel, kOsRelease, "console=ttyS0 quiet", initrd);
    if (uki.empty()) GTEST_SKIP() << kStub << " or objcopy missing (Debian systemd-boot-efi, binutils)";
    kho::UkiLayout l;
    ASSERT_TRUE(kho::parse_uki("u.efi", uki.data(), std::min(uki.size(), kho::kUkiHeadBytes), uki.size(), &l));
    ASSERT_EQ(l.linux.size, kernel.size());
    EXPECT_EQ(memcmp(uki.data() + l.linux.offset, kernel.data(), kernel.size()), 0);
    ASSERT_EQ(l.initrd.size, initrd.size());
    EXPECT_EQ(memcmp(uki.data() + l.initrd.offset, initrd.data(), initrd.size()), 0);
    EXPECT_EQ(std::string(uki.begin() + long(l.cmdline.offset), uki.begin() + long(l.cmdline.offset + l.cmdline.size)),
              "console=ttyS0 quiet");
    kho::OsRelease r;
    kho::parse_os_release(reinterpret_cast<const char*>(uki.data() + l.osrel.offset), l.osrel.size, &r);
    EXPECT_STREQ(kho::os_release_title(r), "Debian GNU/Linux 12 (bookworm)");
    EXPECT_STREQ(kho::os_release_version(r), "12");
    EXPECT_STREQ(kho::os_release_sort_key(r), "debian");

    // Every truncation of the file is refused or stays inside it.
    for (size_t n = 0; n < 2048; n += 7) {
        kho::UkiLayout t;
        kho::Status s = kho::parse_uki("u.efi", uki.data(), std::min(n, kho::kUkiHeadBytes), n, &t);
        if (s) {
            EXPECT_LE(t.linux.offset + t.linux.size, n);
        }
    }
    // Not x86-64: refused with the reason.
    std::vector<uint8_t> arm = uki;
    uint32_t pe;
    memcpy(&pe, &arm[0x3c], 4);
    arm[pe + 4] = 0x64;
    arm[pe + 5] = 0xaa;
    kho::Status s = kho::parse_uki("u.efi", arm.data(), kho::kUkiHeadBytes, arm.size(), &l);
    ASSERT_FALSE(s);
    EXPECT_NE(std::string(s.message()).find("machine type is not x86-64"), std::string::npos);
}

// Issue 15: "UKIs (type 2 entries) are not recognised".
TEST(Uki, AType2EntryBootsItsSections) {
    std::vector<uint8_t> kernel = make_test_bzimage(0x1000000), initrd(5000, 0x5a);
    std::vector<uint8_t> uki = make_uki(kernel, kOsRelease, "console=ttyS0 from-uki\n", initrd);
    if (uki.empty()) GTEST_SKIP() << kStub << " missing";
    Machine m;
    m.entry("older", "title Old\nsort-key zzz\nversion 1\n");
    m.fw.files["/EFI/Linux/debian-12.efi"] = uki;
    m.fw.files["/EFI/Linux/not-a-uki.efi"] = text("MZ nonsense");
    kho::BootVerdict v = m.boot();
    ASSERT_EQ(v.outcome, BootOutcome::ColdBoot) << m.fw.log_text();
    EXPECT_STREQ(m.ctx->entry.id, "debian-12.efi");  // sort-key "debian" < "zzz"
    EXPECT_TRUE(m.fw.logged("entry-title Debian GNU/Linux 12 (bookworm)")) << m.fw.log_text();
    EXPECT_TRUE(m.fw.logged("/EFI/Linux/not-a-uki.efi: not a unified kernel image")) << m.fw.log_text();
    const kho::abi::x86::BootParams* bp = v.handoff.boot_params;
    const char* cl = reinterpret_cast<const char*>(m.fw.ram().writable(bp->hdr.cmd_line_ptr, 64));
    EXPECT_STREQ(cl, "console=ttyS0 from-uki");
    ASSERT_EQ(bp->hdr.ramdisk_size, initrd.size());
    const uint8_t* rd = m.fw.ram().writable(bp->hdr.ramdisk_image, initrd.size());
    EXPECT_EQ(memcmp(rd, initrd.data(), initrd.size()), 0);
    // The kernel's protected-mode part came from the .linux section.
    size_t setup = (size_t(kernel[0x1f1]) + 1) * 512;
    const uint8_t* k = m.fw.ram().writable(v.handoff.images->kernel, 256);
    EXPECT_EQ(memcmp(k, kernel.data() + setup, 256), 0);
}

TEST(Uki, TheUkiKeyWithOptionsReplacingCmdline) {
    std::vector<uint8_t> kernel = make_test_bzimage(0x1000000);
    std::vector<uint8_t> uki = make_uki(kernel, kOsRelease, "from-uki", {1, 2, 3});
    if (uki.empty()) GTEST_SKIP() << kStub << " missing";
    Machine m;
    m.fw.files["/images/k.efi"] = uki;
    m.fw.files["/loader/entries/k.conf"] = text("title K\nuki /images/k.efi\noptions from-entry\n");
    kho::BootVerdict v = m.boot();
    ASSERT_EQ(v.outcome, BootOutcome::ColdBoot) << m.fw.log_text();
    const char* cl = reinterpret_cast<const char*>(m.fw.ram().writable(v.handoff.boot_params->hdr.cmd_line_ptr, 64));
    EXPECT_STREQ(cl, "from-entry");
}

}  // namespace
