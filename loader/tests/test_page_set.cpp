// PageSet (loader/page_set.h): the decoders' defence against cycles and
// shared pages. Checked against std::set on random and adversarial
// address patterns (addresses that differ only in high bits, which a weak
// hash would pile into one probe chain).
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <vector>

#include "loader/page_set.h"

using kho::PageSet;

namespace {

struct Pages {
    explicit Pages(size_t n) : slots(n, 0), set(slots.data(), n) {}
    std::vector<uint64_t> slots;
    PageSet set;
};

TEST(PageSet, AddedThenPresent) {
    Pages p(16);
    EXPECT_EQ(p.set.insert(0x1000), PageSet::Insert::Added);
    EXPECT_EQ(p.set.insert(0x1000), PageSet::Insert::Present);
    EXPECT_TRUE(p.set.contains(0x1000));
    EXPECT_FALSE(p.set.contains(0x2000));
    EXPECT_EQ(p.set.size(), 1u);
    EXPECT_EQ(p.set.capacity(), 16u);
}

TEST(PageSet, MatchesStdSetOnRandomPages) {
    std::mt19937_64 rng(1);
    Pages p(1 << 14);
    std::set<uint64_t> model;
    for (int i = 0; i < 6000; ++i) {
        // Draw from a small pool so that repeats happen often.
        uint64_t page = ((rng() % 8000) + 1) << 12;
        PageSet::Insert r = p.set.insert(page);
        bool fresh = model.insert(page).second;
        ASSERT_EQ(r, fresh ? PageSet::Insert::Added : PageSet::Insert::Present) << page;
    }
    EXPECT_EQ(p.set.size(), model.size());
    for (uint64_t q = 1; q <= 8000; ++q)
        EXPECT_EQ(p.set.contains(q << 12), model.count(q << 12) == 1) << q;
}

TEST(PageSet, HighBitOnlyDifferencesAreDistinct) {
    // Pages 2^32 apart, 2^40 apart, and the top of the 52-bit space.
    Pages p(1 << 12);
    std::vector<uint64_t> pages;
    for (uint64_t i = 1; i <= 600; ++i) pages.push_back(i << 32);
    for (uint64_t i = 1; i <= 600; ++i) pages.push_back((i << 40) | 0x1000);
    pages.push_back(0xffffffffff000ull);
    for (uint64_t pg : pages) ASSERT_EQ(p.set.insert(pg), PageSet::Insert::Added) << std::hex << pg;
    for (uint64_t pg : pages) ASSERT_EQ(p.set.insert(pg), PageSet::Insert::Present) << std::hex << pg;
    EXPECT_EQ(p.set.size(), pages.size());
    EXPECT_FALSE(p.set.contains(601ull << 32));
    EXPECT_FALSE(p.set.contains(601ull << 40));
}

TEST(PageSet, UnalignedValuesAreKeptExactly) {
    // The kho-v1 decoder records 512-byte bitmap objects, several per page.
    Pages p(64);
    EXPECT_EQ(p.set.insert(0x5000), PageSet::Insert::Added);
    EXPECT_EQ(p.set.insert(0x5200), PageSet::Insert::Added);
    EXPECT_EQ(p.set.insert(0x5200), PageSet::Insert::Present);
    EXPECT_FALSE(p.set.contains(0x5400));
}

TEST(PageSet, FullIsReportedAndNothingIsLost) {
    Pages p(8);
    std::vector<uint64_t> added;
    PageSet::Insert r = PageSet::Insert::Added;
    uint64_t page = 0x1000;
    while ((r = p.set.insert(page)) == PageSet::Insert::Added) {
        added.push_back(page);
        page += 0x1000;
        ASSERT_LE(added.size(), 8u) << "more entries than slots";
    }
    EXPECT_EQ(r, PageSet::Insert::Full);
    // At least half the slots usable (a table that refuses early would make
    // callers size it needlessly large), never more than all of them.
    EXPECT_GE(added.size(), 4u);
    EXPECT_EQ(p.set.size(), added.size());
    EXPECT_FALSE(p.set.contains(page));
    for (uint64_t a : added) {
        EXPECT_TRUE(p.set.contains(a));
        EXPECT_EQ(p.set.insert(a), PageSet::Insert::Present) << "a full set must still find members";
    }
    // Lookups of absent pages terminate on a full table.
    EXPECT_FALSE(p.set.contains(0xdead000));
}

TEST(PageSet, LargeSetStaysFast) {
    // 500k pages in 1M slots: a degenerate probe sequence would take
    // minutes here; this must finish in well under a second.
    Pages p(1 << 20);
    for (uint64_t i = 1; i <= 500000; ++i)
        ASSERT_EQ(p.set.insert(i << 21), PageSet::Insert::Added);
    EXPECT_EQ(p.set.size(), 500000u);
    EXPECT_TRUE(p.set.contains(250000ull << 21));
}

}  // namespace
