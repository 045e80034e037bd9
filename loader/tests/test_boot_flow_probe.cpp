// The RAM-retention probe through whole boots against the model firmware:
// an arm boot fills free memory and resets, the next boot compares before
// it allocates, and the result then refuses a state that lies in RAM the
// firmware rewrote. The "reset" is the test's: RAM and the variables are
// carried to a fresh model firmware, and the test plays the firmware's
// writes. Expected ranges come from what the test wrote.
#include <gtest/gtest.h>
#include <string.h>

#include <memory>
#include <string>
#include <vector>

#include "fake_firmware.h"
#include "kho_encoder.h"
#include "loader/boot_flow.h"
#include "loader/handover_descriptor.h"

namespace {

using namespace khotest;
using kho::BootOutcome;
using kho::KhoVariable;
namespace efi = kho::abi::efi;
namespace probe = kho::abi::probe;

constexpr uint64_t kRamStart = 0x100000, kRamEnd = 0x4000000;  // 63 MiB
constexpr uint64_t kArena = 0x3000000, kArenaSize = 0x400000;
constexpr uint64_t kScratch = 0x1000000, kScratchSize = 0x1000000;

std::vector<uint8_t> bytes_of(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

uint64_t documented_word(uint64_t a, uint64_t salt) {
    return ((a ^ salt) * 0x9E3779B97F4A7C15ull) ^ 0x4B484F4250524F42ull;
}

struct Machine {
    FakeFirmware fw{kRamStart, kRamEnd};
    std::unique_ptr<kho::BootContext> ctx = std::make_unique<kho::BootContext>();
    kho::BootFacts facts;
    std::unique_ptr<kho::BootFlow> flow;
    std::unique_ptr<PageArena> arena;  // backs its own pages: state encoders write there

    explicit Machine(const std::string& loader_conf = "") {
        fw.mem().add_backed(kRamStart, kArena - kRamStart);
        arena = std::make_unique<PageArena>(fw.mem(), kArena, kArenaSize);
        fw.mem().add_backed(kArena + kArenaSize, kRamEnd - kArena - kArenaSize);
        fw.files["/vmlinuz"] = make_test_bzimage(0x800000);
        fw.files["/loader/entries/tk.conf"] = bytes_of("title tk\nlinux /vmlinuz\n");
        if (!loader_conf.empty()) fw.files["/loader/loader.conf"] = bytes_of(loader_conf);
        facts.load_options = "";
    }
    kho::BootVerdict boot() {
        flow = std::make_unique<kho::BootFlow>(fw, *ctx, facts, kho::x86_protocol());
        return flow->run();
    }
};

// What the arm boot left at its reset: all of RAM and the variables.
struct AtReset {
    std::vector<uint8_t> ram;
    std::vector<uint8_t> armed;
    std::vector<std::pair<uint64_t, uint64_t>> conventional_before;
    bool seen = false;
};

void capture_reset(Machine& m, AtReset* out) {
    m.fw.on_warm_reset = [out](FakeFirmware& fw) {
        out->seen = true;
        out->ram.resize(kRamEnd - kRamStart);
        ASSERT_TRUE(fw.mem().read(kRamStart, out->ram.data(), out->ram.size()));
        ASSERT_TRUE(fw.variable(KhoVariable::ProbeArmed).has_value());
        out->armed = *fw.variable(KhoVariable::ProbeArmed);
    };
}

std::vector<probe::FilledRange> filled_of(const std::vector<uint8_t>& armed, uint64_t* salt) {
    probe::ArmedHeader h;
    memcpy(&h, armed.data(), sizeof(h));
    *salt = h.salt;
    std::vector<probe::FilledRange> out(h.count);
    memcpy(out.data(), armed.data() + sizeof(h), h.count * sizeof(probe::FilledRange));
    return out;
}

// A fresh model firmware over the RAM the reset kept.
void warm_reset_into(Machine& next, const AtReset& at) {
    // Per backed region of the model (below, in and above the arena).
    for (auto [s, e] : {std::pair{kRamStart, kArena}, std::pair{kArena, kArena + kArenaSize},
                        std::pair{kArena + kArenaSize, kRamEnd}})
        ASSERT_TRUE(next.fw.mem().write(s, &at.ram[s - kRamStart], e - s));
    next.fw.variable(KhoVariable::ProbeArmed) = at.armed;
}

TEST(BootFlowProbe, ArmFillsAllFreeMemoryButTheReserveThenResets) {
    Machine m("khoboot-probe once\n");
    AtReset at;
    capture_reset(m, &at);
    m.boot();
    ASSERT_TRUE(at.seen) << m.fw.log_text();
    EXPECT_EQ(m.fw.warm_resets, 1u);
    uint64_t salt = 0;
    auto filled = filled_of(at.armed, &salt);
    ASSERT_FALSE(filled.empty());
    uint64_t total = 0;
    for (const auto& r : filled) {
        total += r.end - r.start;
        for (uint64_t a = r.start; a < r.end; a += 4096) {
            uint64_t w0, wl;
            memcpy(&w0, &at.ram[a - kRamStart], 8);
            memcpy(&wl, &at.ram[a + 4088 - kRamStart], 8);
            ASSERT_EQ(w0, documented_word(a, salt)) << std::hex << a;
            ASSERT_EQ(wl, documented_word(a + 4088, salt)) << std::hex << a;
        }
    }
    // Nothing was allocated before the arm: all RAM is filled but the
    // 8 MiB reserve at its top.
    EXPECT_EQ(total, (kRamEnd - kRamStart) - (8 << 20));
    EXPECT_EQ(filled.back().end, kRamEnd - (8 << 20));
    EXPECT_TRUE(m.fw.logged("probe armed ranges=1 bytes=" + std::to_string(total)));
    EXPECT_TRUE(m.fw.logged("probe reset warm"));
    // The reset did not happen (model firmware): the fill is released and
    // the boot goes on as usual.
    EXPECT_FALSE(m.fw.variable(KhoVariable::ProbeArmed));
    EXPECT_TRUE(m.fw.logged("warn probe not armed: ResetSystem(EfiResetWarm) returned"));
}

TEST(BootFlowProbe, CheckBeforeAnyAllocationFindsExactlyWhatTheFirmwareWrote) {
    Machine m("khoboot-probe once\n");
    AtReset at;
    capture_reset(m, &at);
    m.boot();
    ASSERT_TRUE(at.seen);

    Machine next("khoboot-probe once\n");
    warm_reset_into(next, at);
    // The firmware's doing across the reset: it scrubs 0x800000-0x803000,
    // keeps 0x800000-0x801000 as its own data, and rewrites one word at
    // 0x2ff0ff8 (the last page before the reserve).
    for (uint64_t a = 0x800000; a < 0x803000; a += 512) ASSERT_TRUE(next.fw.mem().write_u64(a, 0));
    ASSERT_TRUE(next.fw.mem().write_u64(0x37ffff8, 1));
    next.fw.set_type(0x800000, 0x801000, efi::kBootServicesData);
    kho::BootVerdict v = next.boot();
    EXPECT_EQ(v.outcome, BootOutcome::ColdBoot) << next.fw.log_text();

    ASSERT_TRUE(next.fw.variable(KhoVariable::ProbeResult)) << next.fw.log_text();
    const auto& bytes = *next.fw.variable(KhoVariable::ProbeResult);
    std::vector<uint64_t> aligned(bytes.size() / 8 + 1);
    memcpy(aligned.data(), bytes.data(), bytes.size());
    auto r = std::make_unique<kho::ProbeResult>();
    ASSERT_TRUE(kho::parse_probe_result(aligned.data(), bytes.size(), r.get()));
    // The kernel and boot data this boot loaded later are not in it.
    ASSERT_EQ(r->count, 3u) << next.fw.log_text();
    EXPECT_EQ(r->changes[0].start, 0x800000u);
    EXPECT_EQ(r->changes[0].end, 0x801000u);
    EXPECT_EQ(r->changes[0].type, uint32_t(efi::kBootServicesData));
    EXPECT_EQ(r->changes[1].start, 0x801000u);
    EXPECT_EQ(r->changes[1].end, 0x803000u);
    EXPECT_EQ(r->changes[1].type, uint32_t(efi::kConventionalMemory));
    EXPECT_EQ(r->changes[2].start, 0x37ff000u);
    EXPECT_EQ(r->changes[2].end, 0x3800000u);
    EXPECT_EQ(r->changed_bytes, 0x4000u);
    EXPECT_TRUE(next.fw.logged("probe changed 0x800000-0x801000 owner=BootServicesData"));
    EXPECT_TRUE(next.fw.logged("probe result filled=" + std::to_string((kRamEnd - kRamStart) - (8 << 20)) +
                               " ranges=1 changed=16384 changed-ranges=3 listed=3"));
    // Consumed, and `once` does not arm again now that a result exists.
    EXPECT_FALSE(next.fw.variable(KhoVariable::ProbeArmed));
    EXPECT_EQ(next.fw.warm_resets, 0u);
}

TEST(BootFlowProbe, OsRequestArmsEvenWithAResultAndIsConsumed) {
    Machine m;
    m.fw.variable(KhoVariable::ProbeRequest) = std::vector<uint8_t>(16, 0);
    auto r = std::make_unique<kho::ProbeResult>();
    std::vector<uint8_t> res(probe::kMaxResultBytes);
    size_t len = 0;
    ASSERT_TRUE(kho::encode_probe_result(*r, res.data(), res.size(), &len));
    res.resize(len);
    m.fw.variable(KhoVariable::ProbeResult) = res;
    AtReset at;
    capture_reset(m, &at);
    m.boot();
    EXPECT_TRUE(at.seen) << m.fw.log_text();
    EXPECT_FALSE(m.fw.variable(KhoVariable::ProbeRequest));
}

TEST(BootFlowProbe, NoProbeWhenNothingAsks) {
    Machine m;
    kho::BootVerdict v = m.boot();
    EXPECT_EQ(v.outcome, BootOutcome::ColdBoot);
    EXPECT_EQ(m.fw.warm_resets, 0u);
    EXPECT_FALSE(m.fw.logged("probe"));
}

TEST(BootFlowProbe, BadRecordIsConsumedWithAWarningAndTheBootGoesOn) {
    Machine m;
    m.fw.variable(KhoVariable::ProbeArmed) = std::vector<uint8_t>(40, 0xab);
    kho::BootVerdict v = m.boot();
    EXPECT_EQ(v.outcome, BootOutcome::ColdBoot);
    EXPECT_TRUE(m.fw.logged("warn probe record unusable, no check: KhoProbeArmed:")) << m.fw.log_text();
    EXPECT_FALSE(m.fw.variable(KhoVariable::ProbeArmed));
    EXPECT_FALSE(m.fw.variable(KhoVariable::ProbeResult));
}

// A kho-v4 state whose one order-0 block lies at `block`, named by the
// descriptor variable; the probe result says 0x2000000-0x2010000 changed.
struct StateMachine : Machine {
    explicit StateMachine(uint64_t block, const std::string& conf = "") : Machine(conf) {
        RadixTree tree = encode_radix(fw.mem(), *arena, {{block, 0}});
        uint64_t fdt = place_bytes(fw.mem(), *arena, build_fdt(kho_root_node("kho-v4", tree.root, {})));
        kho::HandoverDescriptor d{};
        d.fdt_addr = fdt;
        d.fdt_size = 4096;
        d.scratch_count = 1;
        d.scratch[0] = {kScratch, kScratchSize};
        std::vector<uint8_t> raw(probe::kMaxResultBytes);
        size_t n = 0;
        EXPECT_TRUE(kho::build_handover_descriptor(d, raw.data(), raw.size(), &n));
        raw.resize(n);
        fw.variable(KhoVariable::Descriptor) = raw;
        auto r = std::make_unique<kho::ProbeResult>();
        r->count = r->total = 1;
        r->changes[0] = {0x2000000, 0x2010000, efi::kBootServicesData, 0};
        r->changed_bytes = 0x10000;
        std::vector<uint8_t> res(probe::kMaxResultBytes);
        EXPECT_TRUE(kho::encode_probe_result(*r, res.data(), res.size(), &n));
        res.resize(n);
        fw.variable(KhoVariable::ProbeResult) = res;
    }
};

TEST(BootFlowProbe, StateInKnownClobberedRamIsRefused) {
    StateMachine m(0x2008000);
    kho::BootVerdict v = m.boot();
    EXPECT_EQ(v.outcome, BootOutcome::ColdBoot) << m.fw.log_text();
    EXPECT_TRUE(m.fw.logged("error kho-clobbered 0x2008000-0x2009000 lies in 0x2000000-0x2010000 "
                            "(BootServicesData), rewritten across the probe's warm reset; 1 part(s)"))
        << m.fw.log_text();
    auto& st = *m.fw.variable(KhoVariable::Status);
    EXPECT_NE(std::string(st.begin(), st.end()).find("error=kho-clobbered"), std::string::npos);
}

TEST(BootFlowProbe, StateBesideKnownClobberedRamIsHandedOver) {
    StateMachine m(0x2010000);
    kho::BootVerdict v = m.boot();
    EXPECT_EQ(v.outcome, BootOutcome::Handover) << m.fw.log_text();
}

TEST(BootFlowProbe, NoArmWhileAStateIsAtStake) {
    StateMachine m(0x2010000);
    m.fw.variable(KhoVariable::ProbeRequest) = std::vector<uint8_t>(16, 0);
    kho::BootVerdict v = m.boot();
    EXPECT_EQ(v.outcome, BootOutcome::Handover) << m.fw.log_text();
    EXPECT_EQ(m.fw.warm_resets, 0u);
    EXPECT_TRUE(m.fw.logged("warn probe not armed: a KHO state is at stake this boot (asked again next boot)"));
    EXPECT_TRUE(m.fw.variable(KhoVariable::ProbeRequest));
}

}  // namespace
