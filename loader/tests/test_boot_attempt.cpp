// One try per KHO state (loader/boot_attempt.h): the verdict from the
// descriptor and the attempt record, and the KhoBootStatus text. Records
// are encoded here by hand with zlib's CRC-32, independent of the core.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
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

}  // namespace
