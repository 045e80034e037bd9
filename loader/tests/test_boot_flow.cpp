// The boot flow (loader/boot_flow.h) end to end against a model firmware:
// every verdict (handover, cold boot, halt) and the reason for it, what is
// protected, where the kernel goes and what is left in the variable store.
// The state is built by the test encoders (kho_encoder.h), the firmware's
// map and variables by FakeFirmware; expectations come from the inputs
// (block addresses, scratch), never from the flow's own output.
#include <gtest/gtest.h>
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
    };
    for (const auto& [r, name] : names) EXPECT_STREQ(kho::halt_reason_name(r), name);
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
