// khotool reboot's rules (loader/tools/reboot_plan.h) on made-up facts, and
// its reading of the firmware's boot options (boot_options.h) on load
// options laid out here from UEFI 2.10 section 3.1.3.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "loader/tools/boot_options.h"
#include "loader/tools/reboot_plan.h"

namespace rb = kho::tools::reboot;
namespace bo = kho::tools::boot_options;

namespace {

rb::Facts good() {
    rb::Facts f;
    f.kho_on = true;
    f.luo_on = true;
    f.entry = 7;
    f.kernel_path = "/esp/vmlinuz";
    f.running_known = true;
    f.running_source = "/esp/vmlinuz";
    f.running_abi = {"kho-v4", "luo-v5", "memfd-v2"};
    f.next_abi = {"kho-v4", "luo-v5", "memfd-v2"};
    return f;
}

TEST(RebootPlan, AllPreconditionsHold) {
    rb::Facts f = good();
    f.luo_sessions = 2;
    EXPECT_TRUE(rb::check(f).ok);
}

TEST(RebootPlan, KhoOffIsTheFirstRefusal) {
    rb::Facts f = good();
    f.kho_on = false;
    f.entry.reset();  // also wrong, but KHO is checked first
    EXPECT_EQ(rb::check(f).kind, "kho-off");
}

TEST(RebootPlan, SessionsWithLuoOffAreRefused) {
    rb::Facts f = good();
    f.luo_on = false;
    f.luo_sessions = 1;
    EXPECT_EQ(rb::check(f).kind, "luo-off");
    f.luo_sessions = 0;
    EXPECT_TRUE(rb::check(f).ok);  // nothing to carry
    f.want_luo = true;
    EXPECT_EQ(rb::check(f).kind, "luo-off");
}

TEST(RebootPlan, NoKhobootEntry) {
    rb::Facts f = good();
    f.entry.reset();
    f.entry_error = "no khoboot boot option";
    rb::Verdict v = rb::check(f);
    EXPECT_EQ(v.kind, "no-entry");
    EXPECT_EQ(v.message, "no khoboot boot option");
}

TEST(RebootPlan, NextKernelMustReadTheKhoVersion) {
    rb::Facts f = good();
    f.next_abi = {"kho-v3"};
    rb::Verdict v = rb::check(f);
    EXPECT_EQ(v.kind, "abi-mismatch");
    EXPECT_NE(v.message.find("kho-v4"), std::string::npos);
}

TEST(RebootPlan, LuoVersionsMatterOnlyWhenSessionsTravel) {
    rb::Facts f = good();
    f.next_abi = {"kho-v4"};
    EXPECT_TRUE(rb::check(f).ok);
    f.luo_sessions = 1;
    EXPECT_EQ(rb::check(f).kind, "abi-mismatch");
    EXPECT_EQ(rb::abi_prefixes(f), (std::vector<std::string>{"kho-v", "luo-v", "memfd-v"}));
}

TEST(RebootPlan, UnknownRunningAbiIsRefused) {
    rb::Facts f = good();
    f.running_known = false;
    f.running_error = "no image with this kernel's banner";
    EXPECT_EQ(rb::check(f).kind, "abi-unknown");
    f = good();
    f.running_abi = {"luo-v5"};  // not a KHO kernel image
    EXPECT_EQ(rb::check(f).kind, "abi-unknown");
}

// EFI_LOAD_OPTION: Attributes, FilePathListLength, Description (UCS-2),
// then device path nodes (type, subtype, length) ending in 7f ff 04 00.
std::vector<uint8_t> load_option(const std::string& desc, const std::string& file) {
    std::vector<uint8_t> path;
    // A hard-drive-like node first (media, subtype 1), 42 bytes of zeros.
    path.insert(path.end(), {4, 1, 42, 0});
    path.resize(path.size() + 38);
    if (!file.empty()) {
        size_t len = 4 + 2 * (file.size() + 1);
        path.insert(path.end(), {4, 4, uint8_t(len), uint8_t(len >> 8)});
        for (char c : file) path.insert(path.end(), {uint8_t(c), 0});
        path.insert(path.end(), {0, 0});
    }
    path.insert(path.end(), {0x7f, 0xff, 4, 0});
    std::vector<uint8_t> b{1, 0, 0, 0, uint8_t(path.size()), uint8_t(path.size() >> 8)};
    for (char c : desc) b.insert(b.end(), {uint8_t(c), 0});
    b.insert(b.end(), {0, 0});
    b.insert(b.end(), path.begin(), path.end());
    b.insert(b.end(), {'o', 'p', 't'});  // optional data
    return b;
}

TEST(BootOptions, ReadsDescriptionAndFilePath) {
    bo::LoadOption o;
    ASSERT_EQ(bo::parse_load_option(load_option("khoboot", "\\EFI\\khoboot\\khobootx64.efi"), &o), "");
    EXPECT_EQ(o.description, "khoboot");
    EXPECT_EQ(o.file_path, "\\EFI\\khoboot\\khobootx64.efi");
    ASSERT_EQ(bo::parse_load_option(load_option("UEFI QEMU HARDDISK", ""), &o), "");
    EXPECT_EQ(o.file_path, "");
}

TEST(BootOptions, RefusesMalformedOptions) {
    bo::LoadOption o;
    std::vector<uint8_t> b = load_option("x", "\\a.efi");
    b[4] = 0xff;  // FilePathListLength past the end
    EXPECT_NE(bo::parse_load_option(b, &o), "");
    EXPECT_NE(bo::parse_load_option({1, 0, 0}, &o), "");
    std::vector<uint8_t> unterminated{1, 0, 0, 0, 0, 0, 'a', 0};
    EXPECT_NE(bo::parse_load_option(unterminated, &o), "");
}

}  // namespace
