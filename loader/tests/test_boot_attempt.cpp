// One try per KHO state (loader/boot_attempt.h): the verdict from the
// descriptor and the attempt record, and the KhoBootStatus text. Records
// are encoded here by hand with zlib's CRC-32, independent of the core.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "loader/boot_attempt.h"

namespace {

using kho::AttemptVerdict;

std::vector<uint8_t> descriptor(uint8_t fill) { return std::vector<uint8_t>(88, fill); }

// "KKBATTMP", version 1, the descriptor's CRC-32: abi/boot_record.h.
std::vector<uint8_t> record_for(const std::vector<uint8_t>& d, uint32_t version = 1) {
    std::vector<uint8_t> r(16);
    std::memcpy(r.data(), "KKBATTMP", 8);
    uint32_t crc = uint32_t(::crc32(0, d.data(), uInt(d.size())));
    std::memcpy(r.data() + 8, &version, 4);
    std::memcpy(r.data() + 12, &crc, 4);
    return r;
}

AttemptVerdict assess(const std::vector<uint8_t>* d, const std::vector<uint8_t>* r) {
    return kho::assess_attempt(d ? d->data() : nullptr, d ? d->size() : 0, d != nullptr,
                               r ? r->data() : nullptr, r ? r->size() : 0, r != nullptr);
}

TEST(BootAttempt, FirstSightOfAStateProceeds) {
    auto d = descriptor(1);
    EXPECT_EQ(assess(&d, nullptr), AttemptVerdict::Proceed);
    EXPECT_EQ(assess(nullptr, nullptr), AttemptVerdict::NoState);
}

TEST(BootAttempt, RecordOfThisDescriptorMeansTheTryFailed) {
    auto d = descriptor(1);
    auto r = record_for(d);
    EXPECT_EQ(assess(&d, &r), AttemptVerdict::Failed);
}

TEST(BootAttempt, TheCoreWritesTheRecordItLaterRecognises) {
    auto d = descriptor(7);
    kho::abi::boot_record::Attempt a = kho::make_attempt_record(d.data(), d.size());
    std::vector<uint8_t> r(sizeof(a));
    std::memcpy(r.data(), &a, sizeof(a));
    EXPECT_EQ(r, record_for(d));
}

TEST(BootAttempt, RecordOfAnotherDescriptorNeverCondemnsANewState) {
    // A try of state A crashed, another OS booted and wrote state B.
    auto a = descriptor(1), b = descriptor(2);
    auto r = record_for(a);
    EXPECT_EQ(assess(&b, &r), AttemptVerdict::ForeignRecord);
}

TEST(BootAttempt, MalformedRecordsAreForeign) {
    auto d = descriptor(1);
    auto r = record_for(d);
    auto short_r = std::vector<uint8_t>(r.begin(), r.begin() + 15);
    EXPECT_EQ(assess(&d, &short_r), AttemptVerdict::ForeignRecord);
    auto bad_magic = r;
    bad_magic[0] ^= 1;
    EXPECT_EQ(assess(&d, &bad_magic), AttemptVerdict::ForeignRecord);
    auto v2 = record_for(d, 2);
    EXPECT_EQ(assess(&d, &v2), AttemptVerdict::ForeignRecord);
    EXPECT_EQ(assess(nullptr, &r), AttemptVerdict::ForeignRecord);
}

TEST(BootStatus, FormatsEveryKeyOnItsOwnLine) {
    kho::BootStatus s;
    s.outcome = kho::BootOutcome::ColdBoot;
    s.error_kind = "kho-attempt-failed";
    s.message = "a boot of the state at 0x1000 never\nreached its kernel";
    s.entry = "tk";
    s.phases[0] = {"kho", 12};
    s.phases[1] = {"config", 3400};
    s.phase_count = 2;
    s.entry_to_jump_us = 98000;
    char out[512];
    size_t len = 0;
    ASSERT_TRUE(kho::format_boot_status(s, out, sizeof(out), &len));
    EXPECT_EQ(std::string(out, len),
              "version=1\noutcome=cold-boot\nerror=kho-attempt-failed\n"
              "message=a boot of the state at 0x1000 never?reached its kernel\nentry=tk\n"
              "phases=kho:12,config:3400\nentry-to-jump-us=98000\n");
}

TEST(BootStatus, NoErrorIsNoneAndTooSmallABufferIsCapacity) {
    kho::BootStatus s;
    s.outcome = kho::BootOutcome::Handover;
    char out[256];
    size_t len = 0;
    ASSERT_TRUE(kho::format_boot_status(s, out, sizeof(out), &len));
    EXPECT_NE(std::string(out).find("outcome=handover\nerror=none\n"), std::string::npos) << out;
    char tiny[20];
    EXPECT_EQ(kho::format_boot_status(s, tiny, sizeof(tiny), &len).code(), kho::Err::Capacity);
}

// KhoBootStatus read back by khotool status: what khoboot wrote comes back
// field for field, and text a user or another program wrote is refused
// with the line it is wrong on rather than half-read.
std::string formatted(const kho::BootStatus& s) {
    char out[kho::abi::boot_record::kStatusMaxBytes];
    size_t len = 0;
    EXPECT_TRUE(kho::format_boot_status(s, out, sizeof(out), &len));
    return std::string(out, len);
}

kho::Status parse(const std::string& text, kho::ParsedBootStatus* out) {
    return kho::parse_boot_status(text.data(), text.size(), out);
}

TEST(BootStatusParse, RoundTripsWhatFormatWrites) {
    kho::BootStatus s;
    s.outcome = kho::BootOutcome::Halt;
    s.error_kind = "kho-bad-map";
    s.message = "page 0x1000 claimed twice: a=b";
    s.entry = "linux-kho";
    for (size_t i = 0; i < kho::BootStatus::kMaxPhases; ++i)
        s.phases[i] = {i % 2 ? "load" : "kho", 1000 * i + 7};
    s.phase_count = kho::BootStatus::kMaxPhases;
    s.entry_to_jump_us = UINT64_MAX;
    const std::string text = formatted(s);
    auto p = std::make_unique<kho::ParsedBootStatus>();
    ASSERT_TRUE(parse(text, p.get())) << parse(text, p.get()).message();
    EXPECT_EQ(p->version, 1u);
    EXPECT_EQ(p->status.outcome, kho::BootOutcome::Halt);
    EXPECT_STREQ(p->status.error_kind, "kho-bad-map");
    EXPECT_STREQ(p->status.message, "page 0x1000 claimed twice: a=b");
    EXPECT_STREQ(p->status.entry, "linux-kho");
    ASSERT_EQ(p->status.phase_count, kho::BootStatus::kMaxPhases);
    EXPECT_STREQ(p->status.phases[11].name, "load");
    EXPECT_EQ(p->status.phases[11].us, 11007u);
    EXPECT_EQ(p->status.entry_to_jump_us, UINT64_MAX);
    EXPECT_EQ(formatted(p->status), text);
}

TEST(BootStatusParse, EveryOutcomeAndTheEmptyFieldsRoundTrip) {
    for (auto o : {kho::BootOutcome::Handover, kho::BootOutcome::ColdBoot, kho::BootOutcome::Halt}) {
        kho::BootStatus s;
        s.outcome = o;
        const std::string text = formatted(s);
        auto p = std::make_unique<kho::ParsedBootStatus>();
        ASSERT_TRUE(parse(text, p.get())) << text;
        EXPECT_EQ(p->status.outcome, o);
        EXPECT_EQ(p->status.error_kind, nullptr);
        EXPECT_EQ(p->status.message, nullptr);
        EXPECT_EQ(p->status.entry, nullptr);
        EXPECT_EQ(p->status.phase_count, 0u);
        EXPECT_EQ(formatted(p->status), text);
    }
}

TEST(BootStatusParse, SkipsUnknownKeysAndAMissingFinalNewline) {
    auto p = std::make_unique<kho::ParsedBootStatus>();
    ASSERT_TRUE(parse("version=1\nfuture-key=x=y\noutcome=handover\nphases=kho:5", p.get()));
    EXPECT_EQ(p->status.outcome, kho::BootOutcome::Handover);
    ASSERT_EQ(p->status.phase_count, 1u);
    EXPECT_STREQ(p->status.phases[0].name, "kho");
    EXPECT_EQ(p->status.phases[0].us, 5u);
}

TEST(BootStatusParse, RefusesHostileTextNamingTheLine) {
    const std::string head = "version=1\noutcome=handover\n";
    struct Case {
        std::string text;
        const char* says;
    } cases[] = {
        {"", "no version line"},
        {"version=1\n", "no outcome line"},
        {"version=2\noutcome=halt\n", "line 1: version is not 1"},
        {"version=1\noutcome=reboot\n", "line 2: unknown outcome"},
        {head + "no equals sign\n", "line 3: not key=value"},
        {head + "\n", "line 3: not key=value"},
        {head + "=value\n", "line 3: empty key"},
        {head + "outcome=halt\n", "line 3: a key given twice"},
        {head + "entry-to-jump-us=-1\n", "line 3: entry-to-jump-us is not"},
        {head + "entry-to-jump-us=18446744073709551616\n", "line 3: entry-to-jump-us is not"},
        {head + "entry-to-jump-us=0x10\n", "line 3: entry-to-jump-us is not"},
        {head + "phases=kho\n", "line 3: a phase is not name:us"},
        {head + "phases=:5\n", "line 3: a phase is not name:us"},
        {head + "phases=kho:5,\n", "line 3: a phase is not name:us"},
        {head + "phases=kho:\n", "line 3: a phase's us"},
        {head + "phases=a:1,b:2,c:3,d:4,e:5,f:6,g:7,h:8,i:9,j:10,k:11,l:12,m:13\n",
         "line 3: more phases"},
        {head + std::string("message=a\0b\n", 12), "line 3: NUL byte"},
        {head + "message=" + std::string(1100, 'x') + "\n", "more than 1024"},
    };
    for (const Case& c : cases) {
        auto p = std::make_unique<kho::ParsedBootStatus>();
        kho::Status s = parse(c.text, p.get());
        EXPECT_EQ(s.code(), kho::Err::BadDescriptor) << c.text;
        EXPECT_NE(std::string(s.message()).find(c.says), std::string::npos) << s.message();
    }
}

}  // namespace
