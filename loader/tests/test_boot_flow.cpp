// The boot flow (loader/boot_flow.h) end to end against a model firmware:
// every verdict (handover, cold boot, halt) and the reason for it, what is
// protected, where the kernel goes and what is left in the variable store.
// The state is built by the test encoders (kho_encoder.h), the firmware's
// map and variables by FakeFirmware; expectations come from the inputs
// (block addresses, scratch), never from the flow's own output.
#include <gtest/gtest.h>
#include <stdio.h>
#include <string.h>

#include <memory>
#include <string>
#include <vector>

#include <libfdt.h>

#include "arm64_image.h"
#include "fake_firmware.h"
#include "kho_encoder.h"
#include "loader/boot_flow.h"
#include "loader/handover_descriptor.h"

namespace {

using namespace khotest;
using kho::BootOutcome;
using kho::KhoVariable;
namespace efi = kho::abi::efi;

constexpr uint64_t kRamStart = 0x100000, kRamEnd = 0x10000000;  // 255 MiB
constexpr uint64_t kArena = 0x4000000, kArenaSize = 0x400000;
constexpr uint64_t kScratch = 0x8000000, kScratchSize = 0x4000000;
constexpr uint64_t kKernelInitSize = 0x1000000;

std::vector<uint8_t> bytes_of(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

struct Machine {
    FakeFirmware fw{kRamStart, kRamEnd};
    std::unique_ptr<PageArena> arena;
    std::unique_ptr<kho::BootContext> ctx = std::make_unique<kho::BootContext>();
    kho::BootFacts facts;
    const kho::BootProtocol* protocol = &kho::x86_protocol();
    std::vector<Block> blocks = {{0x2000000, 0}, {0x2200000, 9}, {0x2800000, 3}, {0x6000000, 0}};
    kho::HandoverDescriptor desc;
    std::vector<uint8_t> desc_bytes;

    explicit Machine(const std::string& entry_extra = "") {
        fw.mem().add_backed(kRamStart, kArena - kRamStart);
        arena = std::make_unique<PageArena>(fw.mem(), kArena, kArenaSize);
        fw.mem().add_backed(kArena + kArenaSize, kRamEnd - kArena - kArenaSize);
        fw.files["/vmlinuz"] = make_test_bzimage(kKernelInitSize);
        entry("title tk\nlinux /vmlinuz\noptions console=ttyS0\n" + entry_extra);
        facts.load_options = "";
    }
    void entry(const std::string& text) { fw.files["/loader/entries/tk.conf"] = bytes_of(text); }

    // A kho-v4 state of `blocks` and a descriptor naming it with one
    // scratch region, in the descriptor variable.
    void add_state(uint64_t scratch_size = kScratchSize) {
        RadixTree tree = encode_radix(fw.mem(), *arena, blocks);
        uint64_t fdt = place_bytes(fw.mem(), *arena, build_fdt(kho_root_node("kho-v4", tree.root, {})));
        desc = kho::HandoverDescriptor{};
        desc.fdt_addr = fdt;
        desc.fdt_size = 4096;
        desc.scratch_count = 1;
        desc.scratch[0] = {kScratch, scratch_size};
        desc_bytes.assign(kho::abi::descriptor::kMaxSize, 0);
        size_t n = 0;
        ASSERT_TRUE(kho::build_handover_descriptor(desc, desc_bytes.data(), desc_bytes.size(), &n));
        desc_bytes.resize(n);
        fw.variable(KhoVariable::Descriptor) = desc_bytes;
    }

    // The flow outlives the verdict: the handoff points into it.
    std::unique_ptr<kho::BootFlow> flow;
    kho::BootVerdict boot() {
        flow = std::make_unique<kho::BootFlow>(fw, *ctx, facts, *protocol);
        return flow->run();
    }
    std::string status() const {
        auto& v = const_cast<FakeFirmware&>(fw).variable(KhoVariable::Status);
        return v ? std::string(v->begin(), v->end()) : std::string();
    }
    uint64_t block_end(const Block& b) const { return b.phys + (4096ull << b.order); }
    bool overlaps_state(uint64_t start, uint64_t size) const {
        for (const Block& b : blocks)
            if (start < block_end(b) && b.phys < start + size) return true;
        return false;
    }
};

bool inside_scratch(uint64_t start, uint64_t size) {
    return start >= kScratch && start + size <= kScratch + kScratchSize;
}

TEST(BootFlow, NoStateBootsCold) {
    Machine m;
    kho::BootVerdict v = m.boot();
    ASSERT_EQ(v.outcome, BootOutcome::ColdBoot) << m.fw.log_text();
    EXPECT_TRUE(m.fw.logged("kho none"));
    EXPECT_TRUE(m.fw.logged("handover none"));
    EXPECT_EQ(m.fw.type_at(v.handoff.images->kernel), efi::kLoaderCode);
    EXPECT_NE(m.status().find("outcome=cold-boot"), std::string::npos) << m.status();
    EXPECT_EQ(v.handoff.boot_params->hdr.setup_data, 0u);
}

TEST(BootFlow, HandoverProtectsEveryBlockAndLoadsIntoScratch) {
    Machine m;
    m.add_state();
    kho::BootVerdict v = m.boot();
    ASSERT_EQ(v.outcome, BootOutcome::Handover) << m.fw.log_text();
    for (const Block& b : m.blocks)
        for (uint64_t a = b.phys; a < m.block_end(b); a += 4096)
            ASSERT_EQ(m.fw.type_at(a), efi::kLoaderData) << std::hex << a;
    const kho::LoadedImages& l = *v.handoff.images;
    EXPECT_TRUE(inside_scratch(l.kernel, kKernelInitSize)) << std::hex << l.kernel;
    EXPECT_FALSE(m.overlaps_state(l.boot_data, l.layout.size));
    EXPECT_FALSE(l.boot_data >= kScratch && l.boot_data < kScratch + kScratchSize);
    // setup_data type 10 names the root FDT and a copy of the scratch table.
    uint64_t node_phys = v.handoff.boot_params->hdr.setup_data;
    const uint8_t* node = m.fw.mem().view(node_phys, sizeof(kho::abi::x86::SetupData) + 32);
    ASSERT_NE(node, nullptr);
    kho::abi::x86::SetupData sd;
    memcpy(&sd, node, sizeof(sd));
    EXPECT_EQ(sd.type, kho::abi::x86::kSetupKexecKho);
    kho::abi::x86::KhoData kd;
    memcpy(&kd, node + sizeof(sd), sizeof(kd));
    EXPECT_EQ(kd.fdt_addr, m.desc.fdt_addr);
    EXPECT_EQ(kd.scratch_size, sizeof(kho::abi::KhoScratch));
    kho::abi::KhoScratch table;
    ASSERT_TRUE(m.fw.mem().read(kd.scratch_addr, &table, sizeof(table)));
    EXPECT_EQ(table.addr, kScratch);
    EXPECT_EQ(table.size, kScratchSize);
    // Consumed: the descriptor and the attempt record; the status stays.
    EXPECT_FALSE(m.fw.variable(KhoVariable::Descriptor));
    EXPECT_FALSE(m.fw.variable(KhoVariable::Attempt));
    EXPECT_NE(m.status().find("outcome=handover"), std::string::npos) << m.status();
}

TEST(BootFlow, FirmwareOwnedBlockIsAConflictAndTheColdBootKeepsOffTheState) {
    Machine m;
    m.add_state();
    m.fw.set_type(0x2200000, 0x2400000, efi::kBootServicesData);
    kho::BootVerdict v = m.boot();
    ASSERT_EQ(v.outcome, BootOutcome::ColdBoot) << m.fw.log_text();
    EXPECT_TRUE(m.fw.logged("error kho-conflict")) << m.fw.log_text();
    EXPECT_TRUE(m.fw.logged("owner=BootServicesData")) << m.fw.log_text();
    const kho::LoadedImages& l = *v.handoff.images;
    EXPECT_FALSE(m.overlaps_state(l.kernel, kKernelInitSize));
    EXPECT_FALSE(m.overlaps_state(l.boot_data, l.layout.size));
    EXPECT_FALSE(m.fw.variable(KhoVariable::Descriptor));
    EXPECT_NE(m.status().find("error=kho-conflict"), std::string::npos) << m.status();
}

TEST(BootFlow, ConflictWithHaltPolicyHalts) {
    Machine m("kho-on-error halt\n");
    m.add_state();
    m.fw.set_type(0x2000000, 0x2001000, efi::kACPIReclaimMemory);
    kho::BootVerdict v = m.boot();
    ASSERT_EQ(v.outcome, BootOutcome::Halt) << m.fw.log_text();
    EXPECT_STREQ(v.halt_reason, "kho-unusable");
    EXPECT_NE(m.status().find("outcome=halt"), std::string::npos) << m.status();
}

TEST(BootFlow, AStateWhoseLastTryFailedIsNotTriedAgain) {
    Machine m;
    m.add_state();
    kho::abi::boot_record::Attempt a = kho::make_attempt_record(m.desc_bytes.data(), m.desc_bytes.size());
    m.fw.variable(KhoVariable::Attempt) =
        std::vector<uint8_t>(reinterpret_cast<uint8_t*>(&a), reinterpret_cast<uint8_t*>(&a) + sizeof(a));
    kho::BootVerdict v = m.boot();
    ASSERT_EQ(v.outcome, BootOutcome::ColdBoot) << m.fw.log_text();
    EXPECT_TRUE(m.fw.logged("error kho-attempt-failed"));
    EXPECT_FALSE(m.fw.variable(KhoVariable::Descriptor));
    EXPECT_FALSE(m.fw.variable(KhoVariable::Attempt));
    EXPECT_EQ(m.fw.type_at(m.blocks[0].phys), efi::kConventionalMemory);  // never protected
}

// Regression: with no attempt record written, the descriptor was kept and
// the state dropped, so every later boot met the same state again.
TEST(BootFlow, AnUnrecordableAttemptConsumesTheDescriptorBeforeUse) {
    Machine m;
    m.add_state();
    m.fw.fail_writes[size_t(KhoVariable::Attempt)] = true;
    kho::BootVerdict v = m.boot();
    ASSERT_EQ(v.outcome, BootOutcome::Handover) << m.fw.log_text();
    EXPECT_TRUE(m.fw.logged("descriptor consumed before use")) << m.fw.log_text();
    EXPECT_FALSE(m.fw.variable(KhoVariable::Descriptor));
}

TEST(BootFlow, AnUnreadableManifestFailsEveryVerifyLevelButOff) {
    for (const char* level : {"metadata", "full", "off"}) {
        Machine m(std::string("kho-verify ") + level + "\n");
        m.add_state();
        m.fw.variable(KhoVariable::Manifest) = std::vector<uint8_t>(70 * 1024, 0);
        kho::BootVerdict v = m.boot();
        bool off = std::string(level) == "off";
        EXPECT_EQ(v.outcome, off ? BootOutcome::Handover : BootOutcome::ColdBoot) << level << m.fw.log_text();
        EXPECT_EQ(m.fw.logged("error kho-integrity"), !off) << level;
        EXPECT_FALSE(m.fw.variable(KhoVariable::Manifest)) << level;  // consumed with the descriptor
    }
}

TEST(BootFlow, ScratchTooSmallForTheKernelFallsBackAsThePolicySays) {
    for (const char* policy : {"cold-boot", "halt"}) {
        Machine m(std::string("kho-on-error ") + policy + "\n");
        m.add_state(0x100000);
        kho::BootVerdict v = m.boot();
        EXPECT_TRUE(m.fw.logged("error no-space")) << m.fw.log_text();
        if (std::string(policy) == "halt") {
            ASSERT_EQ(v.outcome, BootOutcome::Halt);
            EXPECT_STREQ(v.halt_reason, "kho-no-space");
            continue;
        }
        ASSERT_EQ(v.outcome, BootOutcome::ColdBoot) << m.fw.log_text();
        EXPECT_TRUE(m.fw.logged("policy cold-boot found=1 usable=0"));
        // The state stays protected; the cold boot keeps off it.
        EXPECT_EQ(m.fw.type_at(m.blocks[0].phys), efi::kLoaderData);
        EXPECT_FALSE(m.overlaps_state(v.handoff.images->kernel, kKernelInitSize));
    }
}

// No dead ends: kho required with no state has nothing to keep in RAM, so
// the firmware's next boot option runs instead of a halt.
TEST(BootFlow, RequiredHandoverWithoutStateExitsToTheFirmware) {
    Machine m("kho required\n");
    kho::BootVerdict v = m.boot();
    ASSERT_EQ(v.outcome, BootOutcome::Exit) << m.fw.log_text();
    EXPECT_STREQ(v.halt_reason, "kho-required-missing");
    EXPECT_TRUE(m.fw.logged("exit reason=kho-required-missing")) << m.fw.log_text();
    EXPECT_NE(m.status().find("outcome=exit"), std::string::npos) << m.status();
}

TEST(BootFlow, KhoOffBootsColdAndConsumesTheState) {
    Machine m("kho off\n");
    m.add_state();
    kho::BootVerdict v = m.boot();
    ASSERT_EQ(v.outcome, BootOutcome::ColdBoot) << m.fw.log_text();
    EXPECT_FALSE(m.fw.variable(KhoVariable::Descriptor));
}

// --- no dead ends: with no state at stake, an entry or configuration error
// returns to the firmware's boot manager (outcome Exit), never halts ---

// The verdict, the protocol line and KhoBootStatus of an exit.
void expect_exit(const Machine& m, const kho::BootVerdict& v, const char* reason) {
    ASSERT_EQ(v.outcome, BootOutcome::Exit) << reason << "\n" << m.fw.log_text();
    EXPECT_STREQ(v.halt_reason, reason);
    EXPECT_TRUE(m.fw.logged(std::string("exit reason=") + reason)) << m.fw.log_text();
    EXPECT_FALSE(m.fw.logged("halt reason=")) << m.fw.log_text();
    EXPECT_NE(m.status().find("outcome=exit\n"), std::string::npos) << m.status();
}

TEST(BootFlow, AMissingKernelExitsWithTheImageReason) {
    Machine m;
    m.fw.files.erase("/vmlinuz");
    kho::BootVerdict v = m.boot();
    expect_exit(m, v, "image");
    EXPECT_TRUE(m.fw.logged("error io /vmlinuz: not found")) << m.fw.log_text();
    EXPECT_NE(m.status().find("error=io\n"), std::string::npos) << m.status();
}

TEST(BootFlow, NoBootEntryExitsWithTheConfigReason) {
    Machine m;
    m.fw.files.erase("/loader/entries/tk.conf");
    expect_exit(m, m.boot(), "config");
}

TEST(BootFlow, AnEntryWithoutLinuxExitsWithTheConfigReason) {
    Machine m;
    m.entry("title broken\noptions console=ttyS0\n");
    expect_exit(m, m.boot(), "config");
}

TEST(BootFlow, AMissingInitrdExitsWithTheInitrdReason) {
    Machine m("initrd /initrd.img\n");
    expect_exit(m, m.boot(), "initrd");
}

TEST(BootFlow, ACommandLineTooLongForTheKernelExitsWithTheCmdlineReason) {
    Machine m;
    uint32_t cmdline_size = 255;  // the kernel takes 255 bytes, the entry gives 600
    memcpy(&m.fw.files["/vmlinuz"][0x238], &cmdline_size, 4);
    m.entry("title tk\nlinux /vmlinuz\noptions " + std::string(600, 'x') + "\n");
    expect_exit(m, m.boot(), "cmdline");
}

TEST(BootFlow, NoRoomForTheKernelExitsWithThePlacementReason) {
    Machine m;
    m.fw.set_type(kRamStart, kRamEnd, efi::kBootServicesData);
    expect_exit(m, m.boot(), "placement");
}

TEST(BootFlow, AFailedReadExitsWithTheLoadReason) {
    Machine m("initrd /initrd.img\n");
    m.fw.files["/initrd.img"] = std::vector<uint8_t>(4096, 0x5a);
    m.fw.fail_reads.insert("/initrd.img");
    expect_exit(m, m.boot(), "load");
}

// A state found and consumed does not keep the machine either when its
// policy is cold-boot: the descriptor goes, then the next boot option.
TEST(BootFlow, AProtectedStateUnderTheColdBootPolicyExitsOnAnEntryError) {
    Machine m("kho-on-error cold-boot\n");
    m.add_state();
    m.fw.files.erase("/vmlinuz");
    expect_exit(m, m.boot(), "image");
    EXPECT_FALSE(m.fw.variable(KhoVariable::Descriptor));
    EXPECT_FALSE(m.fw.variable(KhoVariable::Attempt));
}

// Halting stays where a state is protected and the entry says halt: the
// state is kept in RAM for inspection.
TEST(BootFlow, AProtectedStateUnderTheHaltPolicyHaltsOnAnEntryError) {
    Machine m("kho-on-error halt\n");
    m.add_state();
    m.fw.files.erase("/vmlinuz");
    kho::BootVerdict v = m.boot();
    ASSERT_EQ(v.outcome, BootOutcome::Halt) << m.fw.log_text();
    EXPECT_STREQ(v.halt_reason, "image");
    EXPECT_EQ(m.fw.type_at(m.blocks[0].phys), efi::kLoaderData);
    EXPECT_NE(m.status().find("outcome=halt"), std::string::npos) << m.status();
}

// Before the entry is read there is no policy to ask: exit, even with a
// protected state (the descriptor is consumed, the next option boots).
TEST(BootFlow, AConfigErrorWithAProtectedStateExits) {
    Machine m;
    m.add_state();
    m.fw.files.erase("/loader/entries/tk.conf");
    expect_exit(m, m.boot(), "config");
    EXPECT_FALSE(m.fw.variable(KhoVariable::Descriptor));
}

TEST(BootFlow, AStaticStateFromTheEntryIsHandedOver) {
    Machine m;
    m.add_state();
    m.fw.variable(KhoVariable::Descriptor).reset();
    char keys[160];
    snprintf(keys, sizeof(keys), "kho-fdt 0x%llx\nkho-scratch 0x%llx:0x%llx\n",
             (unsigned long long)m.desc.fdt_addr, (unsigned long long)kScratch, (unsigned long long)kScratchSize);
    m.entry(std::string("title tk\nlinux /vmlinuz\n") + keys);
    kho::BootVerdict v = m.boot();
    ASSERT_EQ(v.outcome, BootOutcome::Handover) << m.fw.log_text();
    EXPECT_TRUE(m.fw.logged("kho descriptor source=entry"));
}

TEST(BootFlow, ProtectionCallsTheFirmwarePerRegionNotPerRange) {
    Machine m;
    // 2,000 isolated pages: one allocation per free region holding them.
    m.blocks.clear();
    for (uint64_t i = 0; i < 2000; i++) m.blocks.push_back({0x1000000 + i * 0x2000, 0});
    m.add_state();
    kho::BootVerdict v = m.boot();
    ASSERT_EQ(v.outcome, BootOutcome::Handover) << m.fw.log_text();
    EXPECT_LE(m.fw.page_allocations, 10u);
    for (const Block& b : m.blocks) ASSERT_EQ(m.fw.type_at(b.phys), efi::kLoaderData);
}

// Boot data goes in free RAM outside scratch; only when there is none does
// it use the gaps between preserved ranges inside the protection hulls.
TEST(BootFlow, BootDataUsesTheHullGapsOnlyWhenFreeRamHasNoRoom) {
    for (bool squeeze : {false, true}) {
        Machine m;
        m.blocks = {{0x2000000, 0}, {0x2200000, 9}, {0x2800000, 3}};
        m.add_state();
        const uint64_t hull_start = 0x2000000, hull_end = 0x2808000;
        if (squeeze) {  // the firmware holds all free RAM but the hull and scratch
            uint64_t arena_used = kArena + m.arena->pages_used() * 4096;
            m.fw.set_type(kRamStart, hull_start, efi::kBootServicesData);
            m.fw.set_type(hull_end, kArena, efi::kBootServicesData);
            m.fw.set_type(arena_used, kScratch, efi::kBootServicesData);
            m.fw.set_type(kScratch + kScratchSize, kRamEnd, efi::kBootServicesData);
        }
        kho::BootVerdict v = m.boot();
        ASSERT_EQ(v.outcome, BootOutcome::Handover) << squeeze << m.fw.log_text();
        const kho::LoadedImages& l = *v.handoff.images;
        EXPECT_FALSE(m.overlaps_state(l.boot_data, l.layout.size));
        bool in_hull = l.boot_data >= hull_start && l.boot_data + l.layout.size <= hull_end;
        EXPECT_EQ(in_hull, squeeze) << std::hex << l.boot_data;
    }
}

TEST(BootFlow, OutcomeNamesArePinned) {
    EXPECT_STREQ(kho::boot_outcome_name(BootOutcome::Handover), "handover");
    EXPECT_STREQ(kho::boot_outcome_name(BootOutcome::ColdBoot), "cold-boot");
    EXPECT_STREQ(kho::boot_outcome_name(BootOutcome::Halt), "halt");
    EXPECT_STREQ(kho::boot_outcome_name(BootOutcome::Exit), "exit");
}

// The protocol's halt reasons, as scenarios and docs/architecture.md name them.
TEST(BootFlow, HaltReasonNamesArePinned) {
    using R = kho::HaltReason;
    const std::pair<R, const char*> names[] = {
        {R::KhoUnusable, "kho-unusable"}, {R::KhoRequiredMissing, "kho-required-missing"},
        {R::KhoCmdline, "kho-cmdline"},   {R::KhoNoSpace, "kho-no-space"},
        {R::Config, "config"},            {R::Image, "image"},
        {R::Initrd, "initrd"},            {R::Cmdline, "cmdline"},
        {R::Placement, "placement"},      {R::Load, "load"},
        {R::BootParams, "boot-params"},   {R::ExitBootServices, "exit-boot-services"},
        {R::ImageUnverified, "image-unverified"},
    };
    for (const auto& [r, name] : names) EXPECT_STREQ(kho::halt_reason_name(r), name);
}

// --- Secure Boot (loader/secure_boot.h) and measured boot
// (loader/measured_boot.h) against the model firmware: its "db" accepts
// exactly the images a test lists, its TPM records each measurement ---

kho::SecureBootVariables sb_vars(bool sb_found, uint8_t sb, bool setup_found, uint8_t setup) {
    kho::SecureBootVariables v;
    v.secure_boot_found = sb_found;
    v.secure_boot = sb;
    v.setup_mode_found = setup_found;
    v.setup_mode = setup;
    return v;
}

// The rules of Linux's efi_get_secureboot() (libstub/secureboot.c) and the
// values of enum efi_secureboot_mode (include/linux/efi.h).
TEST(SecureBoot, ModeFollowsLinuxStubRules) {
    using M = kho::SecureBootMode;
    EXPECT_EQ(uint8_t(M::Unset), 0);
    EXPECT_EQ(uint8_t(M::Unknown), 1);
    EXPECT_EQ(uint8_t(M::Disabled), 2);
    EXPECT_EQ(uint8_t(M::Enabled), 3);
    EXPECT_EQ(kho::secure_boot_mode(sb_vars(false, 0, false, 0)), M::Disabled);  // no SecureBoot
    EXPECT_EQ(kho::secure_boot_mode(sb_vars(true, 0, true, 0)), M::Disabled);
    EXPECT_EQ(kho::secure_boot_mode(sb_vars(true, 1, true, 1)), M::Disabled);    // setup mode
    EXPECT_EQ(kho::secure_boot_mode(sb_vars(true, 1, true, 0)), M::Enabled);
    EXPECT_EQ(kho::secure_boot_mode(sb_vars(true, 1, false, 0)), M::Unknown);    // SetupMode unreadable
    kho::SecureBootVariables err;
    err.read_error = true;
    EXPECT_EQ(kho::secure_boot_mode(err), M::Unknown);
    using V = kho::KernelVerifier;
    EXPECT_EQ(kho::choose_kernel_verifier(M::Disabled, true), V::None);
    EXPECT_EQ(kho::choose_kernel_verifier(M::Enabled, false), V::Firmware);
    EXPECT_EQ(kho::choose_kernel_verifier(M::Enabled, true), V::Shim);
    EXPECT_EQ(kho::choose_kernel_verifier(M::Unknown, false), V::Firmware);  // fails closed
}

struct SecureMachine : Machine {
    explicit SecureMachine(const std::string& extra = "") : Machine(extra) {
        fw.secure_boot_vars = sb_vars(true, 1, true, 0);
    }
    void sign_kernel() { fw.authorized.insert(fw.files["/vmlinuz"]); }
};

TEST(SecureBoot, OffChecksNothingAndTellsTheKernelDisabled) {
    Machine m;
    m.add_state();
    kho::BootVerdict v = m.boot();
    ASSERT_EQ(v.outcome, BootOutcome::Handover) << m.fw.log_text();
    EXPECT_TRUE(m.fw.verifications.empty());
    EXPECT_EQ(v.handoff.boot_params->secure_boot, 2);
    EXPECT_TRUE(m.fw.logged("secureboot mode=disabled verify=none tpm=0")) << m.fw.log_text();
}

TEST(SecureBoot, SetupModeChecksNothing) {
    Machine m;
    m.fw.secure_boot_vars = sb_vars(true, 1, true, 1);
    kho::BootVerdict v = m.boot();
    ASSERT_EQ(v.outcome, BootOutcome::ColdBoot) << m.fw.log_text();
    EXPECT_TRUE(m.fw.verifications.empty());
    EXPECT_EQ(v.handoff.boot_params->secure_boot, 2);
}

TEST(SecureBoot, ASignedKernelIsVerifiedByTheFirmwareAndHandedTheState) {
    SecureMachine m;
    m.add_state();
    m.sign_kernel();
    kho::BootVerdict v = m.boot();
    ASSERT_EQ(v.outcome, BootOutcome::Handover) << m.fw.log_text();
    ASSERT_EQ(m.fw.verifications.size(), 1u);
    EXPECT_EQ(m.fw.verifications[0].how, kho::KernelVerifier::Firmware);
    EXPECT_EQ(m.fw.verifications[0].image, m.fw.files["/vmlinuz"]);  // the whole file
    EXPECT_EQ(v.handoff.boot_params->secure_boot, 3);
    EXPECT_TRUE(m.fw.logged("secureboot kernel=/vmlinuz verified by=firmware")) << m.fw.log_text();
    // The payload placed is the verified file's, from its setup size on.
    const kho::LoadedImages& l = *v.handoff.images;
    const std::vector<uint8_t>& file = m.fw.files["/vmlinuz"];
    const uint8_t* placed = m.fw.mem().view(l.kernel, l.image.payload_size);
    ASSERT_NE(placed, nullptr);
    EXPECT_EQ(memcmp(placed, file.data() + l.image.setup_size, l.image.payload_size), 0);
}

TEST(SecureBoot, UnderShimTheKernelIsVerifiedByShim) {
    SecureMachine m;
    m.fw.shim = true;
    m.sign_kernel();
    ASSERT_EQ(m.boot().outcome, BootOutcome::ColdBoot) << m.fw.log_text();
    ASSERT_EQ(m.fw.verifications.size(), 1u);
    EXPECT_EQ(m.fw.verifications[0].how, kho::KernelVerifier::Shim);
}

TEST(SecureBoot, UnreadableVariablesFailClosed) {
    SecureMachine m;
    m.fw.secure_boot_read_fails = true;
    kho::BootVerdict v = m.boot();
    EXPECT_EQ(m.fw.verifications.size(), 1u);
    expect_exit(m, v, "image-unverified");
}

// One error line, no boot data, the state consumed unhanded; what follows
// is the entry's policy: cold-boot -> exit to the boot manager.
void expect_refused(SecureMachine& m, const kho::BootVerdict& v, BootOutcome outcome) {
    ASSERT_EQ(v.outcome, outcome) << m.fw.log_text();
    EXPECT_STREQ(v.halt_reason, "image-unverified");
    size_t errors = 0;
    for (const std::string& line : m.fw.lines) errors += line.rfind("error ", 0) == 0;
    EXPECT_EQ(errors, 1u) << m.fw.log_text();
    EXPECT_TRUE(m.fw.logged("error image-unverified /vmlinuz refused by firmware")) << m.fw.log_text();
    EXPECT_FALSE(m.fw.logged("handover setup_data")) << m.fw.log_text();
    EXPECT_FALSE(m.fw.logged("cmdline ")) << m.fw.log_text();
    EXPECT_FALSE(m.fw.variable(KhoVariable::Descriptor));
    EXPECT_NE(m.status().find("error=image-unverified\n"), std::string::npos) << m.status();
}

TEST(SecureBoot, AnUnsignedKernelIsRefusedAndTheBootExits) {
    SecureMachine m;
    m.add_state();
    expect_refused(m, m.boot(), BootOutcome::Exit);
}

TEST(SecureBoot, AKernelWithOneFlippedByteIsRefused) {
    SecureMachine m;
    m.add_state();
    m.sign_kernel();
    m.fw.files["/vmlinuz"][0x3000] ^= 1;  // in the payload
    expect_refused(m, m.boot(), BootOutcome::Exit);
}

TEST(SecureBoot, AnUnsignedKernelUnderTheHaltPolicyHaltsWithTheStateKept) {
    SecureMachine m("kho-on-error halt\n");
    m.add_state();
    kho::BootVerdict v = m.boot();
    expect_refused(m, v, BootOutcome::Halt);
    for (const Block& b : m.blocks) EXPECT_EQ(m.fw.type_at(b.phys), efi::kLoaderData);
}

std::vector<uint8_t> tagged(uint32_t tag, const std::string& text) {
    uint32_t n = uint32_t(text.size());
    std::vector<uint8_t> e(8 + n);
    memcpy(&e[0], &tag, 4);
    memcpy(&e[4], &n, 4);
    for (uint32_t i = 0; i < n; i++) e[8 + i] = uint8_t(text[i]);
    return e;
}

TEST(MeasuredBoot, EveryInputOfTheNextKernelIsMeasuredWithItsPcrAndTag) {
    SecureMachine m("initrd /a.img\ninitrd /b.img\n");
    m.fw.tpm = true;
    m.fw.files["/a.img"] = std::vector<uint8_t>(5000, 0xa1);
    m.fw.files["/b.img"] = std::vector<uint8_t>(300, 0xb2);
    m.add_state();
    m.sign_kernel();
    kho::BootVerdict v = m.boot();
    ASSERT_EQ(v.outcome, BootOutcome::Handover) << m.fw.log_text();
    // The command line the kernel is given, read from boot_params.
    const char* cl = reinterpret_cast<const char*>(m.fw.mem().view(v.handoff.boot_params->hdr.cmd_line_ptr, 1));
    ASSERT_NE(cl, nullptr);
    std::string cmdline(cl);
    const uint8_t* fdt = m.fw.mem().view(m.desc.fdt_addr, 4096);
    std::vector<uint8_t> scratch(16);
    uint64_t sa = kScratch, ss = kScratchSize;
    memcpy(&scratch[0], &sa, 8);
    memcpy(&scratch[8], &ss, 8);
    struct Want {
        uint32_t pcr;
        std::vector<uint8_t> event, data;
    };
    const std::vector<Want> want = {
        {4, tagged(0x4b484f01, "khoboot kernel"), m.fw.files["/vmlinuz"]},
        {9, tagged(0x8F3B22EC, "Linux initrd"), m.fw.files["/a.img"]},
        {9, tagged(0x8F3B22EC, "Linux initrd"), m.fw.files["/b.img"]},
        {12, tagged(0x8F3B22ED, "khoboot command line"), bytes_of(cmdline)},
        {12, tagged(0x4b484f02, "KHO descriptor"), m.desc_bytes},
        {12, tagged(0x4b484f03, "KHO root FDT"), std::vector<uint8_t>(fdt, fdt + 4096)},
        {12, tagged(0x4b484f04, "KHO scratch table"), scratch},
    };
    ASSERT_EQ(m.fw.measurements.size(), want.size()) << m.fw.log_text();
    for (size_t i = 0; i < want.size(); i++) {
        const auto& got = m.fw.measurements[i];
        EXPECT_EQ(got.pcr, want[i].pcr) << i;
        EXPECT_EQ(got.event_type, 6u) << i;  // EV_EVENT_TAG
        EXPECT_EQ(got.event, want[i].event) << i;
        EXPECT_EQ(got.data, want[i].data) << i;
    }
    EXPECT_NE(cmdline.find("kho=on"), std::string::npos) << cmdline;
    // The log goes to the kernel once, after the last measurement.
    EXPECT_EQ(m.fw.tpm_logs_published, 1u);
    EXPECT_EQ(m.fw.measurements_before_publish, want.size());
}

// The manifest the state came with is measured as read (here the
// variable's bytes; kho-verify off so that these bytes need not verify).
TEST(MeasuredBoot, TheManifestIsMeasuredWhenThereIsOne) {
    Machine m("kho-verify off\n");
    m.fw.tpm = true;
    m.add_state();
    std::vector<uint8_t> manifest(96);
    for (size_t i = 0; i < manifest.size(); i++) manifest[i] = uint8_t(i * 7);
    m.fw.variable(KhoVariable::Manifest) = manifest;
    ASSERT_EQ(m.boot().outcome, BootOutcome::Handover) << m.fw.log_text();
    ASSERT_FALSE(m.fw.measurements.empty());
    const auto& last = m.fw.measurements.back();
    EXPECT_EQ(last.pcr, 12u);
    EXPECT_EQ(last.event, tagged(0x4b484f05, "KHO manifest"));
    EXPECT_EQ(last.data, manifest);
}

TEST(MeasuredBoot, NoTpmNoMeasurementAndAColdBootMeasuresNoState) {
    Machine m;
    m.add_state();
    ASSERT_EQ(m.boot().outcome, BootOutcome::Handover);
    EXPECT_TRUE(m.fw.measurements.empty());
    Machine c("kho off\n");
    c.fw.tpm = true;
    c.add_state();
    ASSERT_EQ(c.boot().outcome, BootOutcome::ColdBoot) << c.fw.log_text();
    ASSERT_EQ(c.fw.measurements.size(), 2u);  // kernel, command line
    EXPECT_EQ(c.fw.measurements[0].pcr, 4u);
    EXPECT_EQ(c.fw.measurements[1].pcr, 12u);
}

TEST(MeasuredBoot, AKernelRefusedByVerificationIsNeverMeasuredAsBooted) {
    SecureMachine m;
    m.fw.tpm = true;
    m.add_state();
    EXPECT_EQ(m.boot().outcome, BootOutcome::Exit);
    EXPECT_TRUE(m.fw.measurements.empty());
}

// --- the attributes of the state's variables (loader/variable_attributes.h) ---

TEST(StateVariables, ADescriptorWithOtherAttributesIsRefusedAndConsumed) {
    // volatile (BS|RT), boot-services only, authenticated (NV|BS|RT|0x20)
    for (uint32_t attrs : {0x6u, 0x3u, 0x27u}) {
        Machine m;
        m.add_state();
        m.fw.attributes[size_t(KhoVariable::Descriptor)] = attrs;
        kho::BootVerdict v = m.boot();
        ASSERT_EQ(v.outcome, BootOutcome::ColdBoot) << attrs << m.fw.log_text();
        char want[96];
        snprintf(want, sizeof(want), "error descriptor KhoHandover has attributes 0x%x, khoboot requires 0x7", attrs);
        EXPECT_TRUE(m.fw.logged(want)) << m.fw.log_text();
        EXPECT_FALSE(m.fw.logged("reserve ok")) << attrs;  // nothing of the state was touched
        EXPECT_FALSE(m.fw.variable(KhoVariable::Descriptor)) << attrs;
    }
}

TEST(StateVariables, AManifestWithOtherAttributesFailsVerification) {
    Machine m("kho-verify metadata\n");
    m.add_state();
    m.fw.variable(KhoVariable::Manifest) = std::vector<uint8_t>(64, 0);
    m.fw.attributes[size_t(KhoVariable::Manifest)] = 0x6;
    kho::BootVerdict v = m.boot();
    EXPECT_EQ(v.outcome, BootOutcome::ColdBoot) << m.fw.log_text();
    EXPECT_TRUE(m.fw.logged("error kho-integrity")) << m.fw.log_text();
    EXPECT_TRUE(m.fw.logged("KhoManifest has attributes 0x6")) << m.fw.log_text();
}

TEST(StateVariables, ProducerAttributesAreAccepted) {
    Machine m;
    m.add_state();
    EXPECT_EQ(m.fw.attributes[size_t(KhoVariable::Descriptor)], 0x7u);
    EXPECT_EQ(m.boot().outcome, BootOutcome::Handover) << m.fw.log_text();
}

}  // namespace

// --- arm64: the same flow with the arm64 boot protocol -----------------------

namespace {

std::vector<uint8_t> be_pair(uint64_t a, uint64_t b) {
    std::vector<uint8_t> out;
    for (uint64_t v : {a, b})
        for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
    return out;
}

struct Arm64Machine : Machine {
    std::vector<uint8_t> firmware_dtb = std::vector<uint8_t>(4096);
    Arm64Machine() {
        protocol = &kho::arm64_protocol();
        fw.files["/vmlinuz"] = khotest::make_arm64_image(0x100000, 0x200000);
        // The firmware's tree: root cells 2/2, as QEMU virt's.
        EXPECT_EQ(fdt_create_empty_tree(firmware_dtb.data(), 4096), 0);
        EXPECT_EQ(fdt_setprop_u32(firmware_dtb.data(), 0, "#address-cells", 2), 0);
        EXPECT_EQ(fdt_setprop_u32(firmware_dtb.data(), 0, "#size-cells", 2), 0);
        facts.dtb = reinterpret_cast<uintptr_t>(firmware_dtb.data());
    }
    std::vector<uint8_t> chosen(const kho::Handoff& h, const char* name) {
        const uint8_t* dtb = fw.mem().view(h.entry_data, h.dtb_size);
        EXPECT_NE(dtb, nullptr);
        if (!dtb) return {};
        int node = fdt_path_offset(dtb, "/chosen");
        int len = 0;
        const auto* p = node < 0 ? nullptr : static_cast<const uint8_t*>(fdt_getprop(dtb, node, name, &len));
        return p ? std::vector<uint8_t>(p, p + len) : std::vector<uint8_t>();
    }
};

TEST(BootFlowArm64, HandoverNamesTheStateInChosenAndKeepsTheKernelInScratch) {
    Arm64Machine m;
    m.add_state();
    kho::BootVerdict v = m.boot();
    ASSERT_EQ(v.outcome, BootOutcome::Handover) << m.fw.log_text();
    for (const Block& b : m.blocks)
        for (uint64_t a = b.phys; a < m.block_end(b); a += 4096)
            ASSERT_EQ(m.fw.type_at(a), efi::kLoaderData) << std::hex << a;
    const kho::LoadedImages& l = *v.handoff.images;
    EXPECT_TRUE(inside_scratch(l.kernel, l.image.init_size)) << std::hex << l.kernel;
    EXPECT_FALSE(l.boot_data >= kScratch && l.boot_data < kScratch + kScratchSize);
    EXPECT_EQ(m.chosen(v.handoff, "linux,kho-fdt"), be_pair(m.desc.fdt_addr, 4096));
    auto scratch = m.chosen(v.handoff, "linux,kho-scratch");
    ASSERT_EQ(scratch.size(), 16u);
    uint64_t table_addr = 0;
    for (int i = 0; i < 8; i++) table_addr = table_addr << 8 | scratch[i];
    EXPECT_EQ(scratch, be_pair(table_addr, sizeof(kho::abi::KhoScratch)));
    kho::abi::KhoScratch table;
    ASSERT_TRUE(m.fw.mem().read(table_addr, &table, sizeof(table)));
    EXPECT_EQ(table.addr, kScratch);
    EXPECT_EQ(table.size, kScratchSize);
    EXPECT_FALSE(table_addr >= kScratch && table_addr < kScratch + kScratchSize);
    ASSERT_EQ(v.handoff.scratch_count, 1u);
    EXPECT_EQ(v.handoff.scratch[0].addr, kScratch);
    EXPECT_NE(m.fw.log_text().find("handover chosen dtb="), std::string::npos);
}

TEST(BootFlowArm64, ColdBootHasNoChosenKhoProperties) {
    Arm64Machine m;
    kho::BootVerdict v = m.boot();
    ASSERT_EQ(v.outcome, BootOutcome::ColdBoot) << m.fw.log_text();
    EXPECT_TRUE(m.chosen(v.handoff, "linux,kho-fdt").empty());
    EXPECT_TRUE(m.chosen(v.handoff, "linux,kho-scratch").empty());
    EXPECT_EQ(v.handoff.scratch_count, 0u);
}

TEST(BootFlowArm64, ScratchSmallerThanTheStubsFootprintFallsBackCold) {
    Arm64Machine m;
    // 1 MiB file + 2 MiB image: footprint 1 + 2 + 4 + 2 + 1 MiB = 10 MiB.
    m.add_state(0x800000);
    kho::BootVerdict v = m.boot();
    ASSERT_EQ(v.outcome, BootOutcome::ColdBoot) << m.fw.log_text();
    EXPECT_NE(m.fw.log_text().find("error no-space"), std::string::npos) << m.fw.log_text();
    EXPECT_TRUE(m.chosen(v.handoff, "linux,kho-fdt").empty());
}

TEST(BootFlowArm64, ABzImageIsNotAnArm64Kernel) {
    Arm64Machine m;
    m.fw.files["/vmlinuz"] = make_test_bzimage(kKernelInitSize);
    kho::BootVerdict v = m.boot();
    EXPECT_EQ(v.outcome, BootOutcome::Exit);
    EXPECT_NE(m.fw.log_text().find("error image"), std::string::npos) << m.fw.log_text();
}

}  // namespace
