// khotool install/remove's two parsers (loader/tools/install_record.h,
// loader/tools/boot_option.h): the install record that bounds what remove
// may delete, and efibootmgr's listing from which install learns the
// number of the option it created. Listings are written out here in the
// formats efibootmgr 17 (Debian 12) and 18 print; expected values by hand.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "loader/tools/boot_option.h"
#include "loader/tools/install_record.h"

namespace {

namespace in = kho::tools::install;

TEST(InstallRecord, RoundTrip) {
    in::Record r;
    r.dirs = {"EFI/khoboot", "loader/entries"};
    r.files = {"EFI/khoboot/khobootx64.efi"};
    r.templates = {"loader/loader.conf"};
    r.boot_number = 0x1a;
    const std::string text = in::format_record(r);
    EXPECT_NE(text.find("\nboot 001A\n"), std::string::npos) << text;
    in::Record back;
    ASSERT_EQ(in::parse_record(text, &back), "");
    EXPECT_EQ(back.dirs, r.dirs);
    EXPECT_EQ(back.files, r.files);
    EXPECT_EQ(back.templates, r.templates);
    EXPECT_EQ(back.boot_number, 0x1a);
}

TEST(InstallRecord, NoBootLineMeansNoOption) {
    in::Record r;
    ASSERT_EQ(in::parse_record("khoboot-install 1\nfile EFI/khoboot/khobootx64.efi\n", &r), "");
    EXPECT_EQ(r.boot_number, -1);
}

TEST(InstallRecord, PathsOutsideTheEspAreRefused) {
    for (const char* bad : {"../etc/passwd", "EFI/../../x", "/etc/passwd", "EFI//x", "EFI/./x", "EFI/x/",
                            "EFI/a b", "EFI/x;rm", "EFI/\xc3\xa9", ""}) {
        in::Record r;
        std::string err = in::parse_record(std::string("khoboot-install 1\nfile ") + bad + "\n", &r);
        EXPECT_NE(err.find("line 2: unsafe path"), std::string::npos) << bad << " -> " << err;
        EXPECT_TRUE(r.files.empty()) << bad;
    }
    EXPECT_TRUE(in::safe_relative_path("EFI/khoboot/khobootx64.efi"));
    EXPECT_TRUE(in::safe_relative_path("loader/entries"));
}

TEST(InstallRecord, MalformedRecordsAreRefusedWithTheLine) {
    in::Record r;
    EXPECT_EQ(in::parse_record("", &r), "empty record");
    EXPECT_EQ(in::parse_record("# only a comment\n", &r), "empty record");
    EXPECT_NE(in::parse_record("khoboot-install 2\n", &r).find("line 1: not a khoboot install record"),
              std::string::npos);
    EXPECT_NE(in::parse_record("khoboot-install 1\nunlink /x\n", &r).find("line 2: unknown key 'unlink'"),
              std::string::npos);
    for (const char* boot : {"boot 3", "boot 00003", "boot 000g", "boot 000a", "boot"})
        EXPECT_NE(in::parse_record(std::string("khoboot-install 1\n") + boot + "\n", &r).find("line 2: boot"),
                  std::string::npos)
            << boot;
}

// efibootmgr 17 without -v: "Boot####* label" (active) or "Boot####  label".
TEST(BootOptions, Version17Listing) {
    const char* listing =
        "BootCurrent: 0001\n"
        "Timeout: 0 seconds\n"
        "BootOrder: 0001,0000,0003\n"
        "Boot0000* UiApp\n"
        "Boot0001* debian\n"
        "Boot0003  khoboot\n"
        "BootNext: 0003\n";
    auto o = in::parse_boot_options(listing);
    ASSERT_EQ(o.size(), 3u);
    EXPECT_EQ(o[0].number, 0);
    EXPECT_EQ(o[0].label, "UiApp");
    EXPECT_TRUE(o[1].active);
    EXPECT_EQ(o[1].label, "debian");
    EXPECT_EQ(o[2].number, 3);
    EXPECT_FALSE(o[2].active);
    EXPECT_EQ(o[2].label, "khoboot");
}

// efibootmgr 18 prints the device path after a tab; labels may hold blanks.
TEST(BootOptions, Version18ListingWithPaths) {
    const char* listing =
        "BootOrder: 0002,00AF\n"
        "Boot0002* UEFI QEMU HARDDISK QM00001 \tPciRoot(0x0)/Pci(0x1f,0x2)/Sata(0,65535,0){auto_created_boot_option}\n"
        "Boot00AF* khoboot\tHD(1,GPT,6b686f62-6f6f-7420-8000-00000000b11e,0x800,0x20000)/File(\\EFI\\khoboot\\khobootx64.efi)\n";
    auto o = in::parse_boot_options(listing);
    ASSERT_EQ(o.size(), 2u);
    EXPECT_EQ(o[0].label, "UEFI QEMU HARDDISK QM00001");
    EXPECT_EQ(o[1].number, 0xaf);
    EXPECT_EQ(o[1].label, "khoboot");
}

TEST(BootOptions, Commands) {
    in::EspDevice dev{"/dev/nvme0n1", 1};
    std::vector<std::string> want = {"efibootmgr", "--create-only", "--disk", "/dev/nvme0n1", "--part", "1",
                                     "--label", "khoboot", "--loader", "\\EFI\\khoboot\\khobootx64.efi"};
    EXPECT_EQ(in::create_command(dev, "khoboot", "\\EFI\\khoboot\\khobootx64.efi", false), want);
    want[1] = "--create";
    EXPECT_EQ(in::create_command(dev, "khoboot", "\\EFI\\khoboot\\khobootx64.efi", true), want);
    EXPECT_EQ(in::delete_command(0xaf), (std::vector<std::string>{"efibootmgr", "--bootnum", "00AF",
                                                                   "--delete-bootnum"}));
    EXPECT_EQ(in::boot_name(0x100), "Boot0100");
}

}  // namespace
