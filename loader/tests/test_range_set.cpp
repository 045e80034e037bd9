// RangeSet (loader/range_set.h), the currency of the memory planner: every
// operation is checked against a brute-force model (one bool per address
// unit) on random inputs, plus the capacity contract the decoders rely on.
#include <gtest/gtest.h>

#include <ostream>
#include <random>
#include <vector>

#include "loader/phys_range.h"
#include "loader/range_set.h"
#include "loader/tests/range_printing.h"

using kho::Err;
using kho::Range;
using kho::RangeSet;

namespace {

constexpr uint64_t kUniverse = 256;

// Brute-force model: bit per unit of [0, kUniverse), shifted by `base` so
// the same model also checks ranges near the top of the 64-bit space.
struct Model {
    std::vector<bool> bits = std::vector<bool>(kUniverse, false);
    void add(uint64_t s, uint64_t e) {
        for (uint64_t i = s; i < e; ++i) bits[i] = true;
    }
    std::vector<Range> ranges(uint64_t base = 0) const {
        std::vector<Range> out;
        for (uint64_t i = 0; i < kUniverse;) {
            if (!bits[i]) {
                ++i;
                continue;
            }
            uint64_t j = i;
            while (j < kUniverse && bits[j]) ++j;
            out.push_back({base + i, base + j});
            i = j;
        }
        return out;
    }
    bool all(uint64_t s, uint64_t e) const {
        for (uint64_t i = s; i < e; ++i)
            if (!bits[i]) return false;
        return true;
    }
    bool any(uint64_t s, uint64_t e) const {
        for (uint64_t i = s; i < e; ++i)
            if (bits[i]) return true;
        return false;
    }
    uint64_t count() const {
        uint64_t n = 0;
        for (bool b : bits) n += b;
        return n;
    }
};

// A RangeSet with its own storage.
struct Set {
    explicit Set(size_t cap) : storage(cap), rs(storage.data(), cap) {}
    std::vector<Range> storage;
    RangeSet rs;
    std::vector<Range> ranges() const { return {rs.begin(), rs.end()}; }
};


// Random ranges inside [0, kUniverse) with start < end, in random order.
void fill_random(std::mt19937_64& rng, Set& set, Model& model, int n, uint64_t base = 0) {
    for (int i = 0; i < n; ++i) {
        uint64_t s = rng() % kUniverse;
        uint64_t len = 1 + rng() % (rng() % 4 == 0 ? 40 : 6);
        uint64_t e = std::min(kUniverse, s + len);
        ASSERT_TRUE(set.rs.add(base + s, base + e).is_ok());
        model.add(s, e);
    }
}

TEST(RangeSet, NormalizeMatchesTheModelOnRandomInput) {
    std::mt19937_64 rng(1);
    for (int round = 0; round < 300; ++round) {
        Set set(64);
        Model model;
        fill_random(rng, set, model, 1 + int(rng() % 30));
        set.rs.normalize();
        ASSERT_TRUE(set.rs.normalized());
        ASSERT_EQ(set.ranges(), model.ranges()) << "round " << round;
        EXPECT_EQ(set.rs.total_bytes(), model.count());
        // Idempotent.
        set.rs.normalize();
        EXPECT_EQ(set.ranges(), model.ranges());
    }
}

TEST(RangeSet, QueriesMatchTheModel) {
    std::mt19937_64 rng(2);
    for (int round = 0; round < 200; ++round) {
        Set set(64);
        Model model;
        fill_random(rng, set, model, 1 + int(rng() % 20));
        set.rs.normalize();
        for (int q = 0; q < 50; ++q) {
            uint64_t s = rng() % kUniverse;
            uint64_t e = std::min(kUniverse, s + 1 + rng() % 30);
            EXPECT_EQ(set.rs.contains(s, e), model.all(s, e)) << s << "-" << e;
            EXPECT_EQ(set.rs.intersects(s, e), model.any(s, e)) << s << "-" << e;
            // lower_bound: first range with end > addr.
            size_t expect = set.rs.size();
            for (size_t i = 0; i < set.rs.size(); ++i)
                if (set.storage[i].end > s) {
                    expect = i;
                    break;
                }
            EXPECT_EQ(set.rs.lower_bound(s), expect) << s;
        }
    }
}

TEST(RangeSet, SubtractAndIntersectMatchTheModel) {
    std::mt19937_64 rng(3);
    for (int round = 0; round < 300; ++round) {
        Set a(64), b(64), diff(128), both(128);
        Model ma, mb;
        fill_random(rng, a, ma, 1 + int(rng() % 20));
        fill_random(rng, b, mb, int(rng() % 20));
        a.rs.normalize();
        b.rs.normalize();
        ASSERT_TRUE(a.rs.subtract(b.rs, diff.rs).is_ok());
        ASSERT_TRUE(a.rs.intersect(b.rs, both.rs).is_ok());
        Model md, mi;
        for (uint64_t i = 0; i < kUniverse; ++i) {
            md.bits[i] = ma.bits[i] && !mb.bits[i];
            mi.bits[i] = ma.bits[i] && mb.bits[i];
        }
        EXPECT_EQ(diff.ranges(), md.ranges()) << "round " << round;
        EXPECT_EQ(both.ranges(), mi.ranges()) << "round " << round;
        EXPECT_TRUE(diff.rs.normalized());
        EXPECT_TRUE(both.rs.normalized());
    }
}

TEST(RangeSet, OutputIsClearedFirst) {
    Set a(4), b(4), out(4);
    ASSERT_TRUE(a.rs.add(10, 20).is_ok());
    ASSERT_TRUE(b.rs.add(15, 30).is_ok());
    ASSERT_TRUE(out.rs.add(100, 200).is_ok());
    ASSERT_TRUE(a.rs.subtract(b.rs, out.rs).is_ok());
    EXPECT_EQ(out.ranges(), (std::vector<Range>{{10, 15}}));
    ASSERT_TRUE(a.rs.intersect(b.rs, out.rs).is_ok());
    EXPECT_EQ(out.ranges(), (std::vector<Range>{{15, 20}}));
}

TEST(RangeSet, WorksAtTheTopOfTheAddressSpace) {
    // Physical ranges near 2^64 must not wrap in any comparison.
    const uint64_t base = UINT64_MAX - kUniverse;
    std::mt19937_64 rng(4);
    for (int round = 0; round < 50; ++round) {
        Set a(64), b(64), diff(128), both(128);
        Model ma, mb;
        fill_random(rng, a, ma, 10, base);
        fill_random(rng, b, mb, 10, base);
        a.rs.normalize();
        b.rs.normalize();
        EXPECT_EQ(a.ranges(), ma.ranges(base));
        ASSERT_TRUE(a.rs.subtract(b.rs, diff.rs).is_ok());
        ASSERT_TRUE(a.rs.intersect(b.rs, both.rs).is_ok());
        Model md, mi;
        for (uint64_t i = 0; i < kUniverse; ++i) {
            md.bits[i] = ma.bits[i] && !mb.bits[i];
            mi.bits[i] = ma.bits[i] && mb.bits[i];
        }
        EXPECT_EQ(diff.ranges(), md.ranges(base));
        EXPECT_EQ(both.ranges(), mi.ranges(base));
    }
}

TEST(RangeSet, TouchingRangesMerge) {
    Set s(8);
    ASSERT_TRUE(s.rs.add(0x2000, 0x3000).is_ok());
    ASSERT_TRUE(s.rs.add(0x1000, 0x2000).is_ok());
    ASSERT_TRUE(s.rs.add(0x3000, 0x4000).is_ok());
    s.rs.normalize();
    EXPECT_EQ(s.ranges(), (std::vector<Range>{{0x1000, 0x4000}}));
}

TEST(RangeSet, EmptyRangesAreIgnored) {
    Set s(4);
    ASSERT_TRUE(s.rs.add(0x5000, 0x5000).is_ok());
    s.rs.normalize();
    EXPECT_EQ(s.rs.size(), 0u);
    EXPECT_EQ(s.rs.total_bytes(), 0u);
}

TEST(RangeSet, AscendingAddsCoalesceWithoutUsingCapacity) {
    // The decoders feed one run per bitmap in ascending order: a dense
    // 64 GiB map is 512 leaf runs that must fit a set of capacity 1.
    Set s(1);
    for (uint64_t i = 0; i < 512; ++i)
        ASSERT_TRUE(s.rs.add(i * 0x8000000, (i + 1) * 0x8000000).is_ok()) << i;
    // Overlapping and contained ascending adds too.
    ASSERT_TRUE(s.rs.add(0x10, 0x20).is_ok());
    ASSERT_TRUE(s.rs.add(512 * 0x8000000ull - 0x1000, 512 * 0x8000000ull + 0x1000).is_ok());
    s.rs.normalize();
    EXPECT_EQ(s.ranges(), (std::vector<Range>{{0, 512 * 0x8000000ull + 0x1000}}));
}

TEST(RangeSet, FullSetReportsCapacity) {
    Set s(3);
    ASSERT_TRUE(s.rs.add(0, 1).is_ok());
    ASSERT_TRUE(s.rs.add(10, 11).is_ok());
    ASSERT_TRUE(s.rs.add(20, 21).is_ok());
    kho::Status st = s.rs.add(30, 31);
    EXPECT_EQ(st.code(), Err::Capacity) << st.message();
    // The set is unchanged and still usable.
    s.rs.normalize();
    EXPECT_EQ(s.ranges(), (std::vector<Range>{{0, 1}, {10, 11}, {20, 21}}));
}

TEST(RangeSet, AddAllAndCapacity) {
    Set a(4), b(2);
    ASSERT_TRUE(a.rs.add(0, 1).is_ok());
    ASSERT_TRUE(a.rs.add(10, 11).is_ok());
    ASSERT_TRUE(a.rs.add(20, 21).is_ok());
    ASSERT_TRUE(b.rs.add(5, 6).is_ok());
    EXPECT_EQ(b.rs.add_all(a.rs).code(), Err::Capacity);
    Set c(8);
    ASSERT_TRUE(c.rs.add(10, 15).is_ok());
    ASSERT_TRUE(c.rs.add_all(a.rs).is_ok());
    c.rs.normalize();
    EXPECT_EQ(c.ranges(), (std::vector<Range>{{0, 1}, {10, 15}, {20, 21}}));
}

TEST(RangeSet, SubtractAndIntersectReportCapacity) {
    // a - b splits one range into 4 pieces; an output of capacity 3 must
    // say so rather than drop a piece (a dropped piece of "free scratch"
    // is harmless, a dropped piece of "to protect" is not).
    Set a(1), b(3), out(3);
    ASSERT_TRUE(a.rs.add(0, 100).is_ok());
    ASSERT_TRUE(b.rs.add(10, 20).is_ok());
    ASSERT_TRUE(b.rs.add(30, 40).is_ok());
    ASSERT_TRUE(b.rs.add(50, 60).is_ok());
    b.rs.normalize();
    EXPECT_EQ(a.rs.subtract(b.rs, out.rs).code(), Err::Capacity);
    Set c(4), d(1), out2(2);
    for (uint64_t i = 0; i < 4; ++i) ASSERT_TRUE(c.rs.add(i * 10, i * 10 + 5).is_ok());
    ASSERT_TRUE(d.rs.add(0, 100).is_ok());
    EXPECT_EQ(c.rs.intersect(d.rs, out2.rs).code(), Err::Capacity);
}

TEST(PhysRange, PageSpanRoundsOut) {
    Range r;
    ASSERT_TRUE(kho::page_span(0x1001, 0x1000, &r));
    EXPECT_EQ(r, (Range{0x1000, 0x3000}));
    ASSERT_TRUE(kho::page_span(0x1000, 0x1000, &r));
    EXPECT_EQ(r, (Range{0x1000, 0x2000}));
    ASSERT_TRUE(kho::page_span(0x10200, 0x200, &r, 0x10000));
    EXPECT_EQ(r, (Range{0x10000, 0x20000}));
}

TEST(RangeSet, RangeHelpers) {
    Range a{10, 20}, b{19, 30}, c{20, 30};
    EXPECT_TRUE(a.overlaps(b));
    EXPECT_FALSE(a.overlaps(c));  // half-open: touching is not overlapping
    EXPECT_TRUE((Range{0, 100}).contains(a));
    EXPECT_FALSE(a.contains(b));
    EXPECT_EQ(a.size(), 10u);
    EXPECT_TRUE((Range{5, 5}).empty());
}

// Regression (issue 9, defect 1): a full set and an out-of-order range
// made add() sort and call itself forever (a hang at -O2, a stack overflow
// at -O0). Now: Capacity, and the set keeps what it had.
TEST(RangeSet, FullSetAndOutOfOrderRangeReportCapacity) {
    constexpr uint64_t p = 4096;
    Set s(2);
    ASSERT_TRUE(s.rs.add(10 * p, 11 * p).is_ok());
    ASSERT_TRUE(s.rs.add(0, 1 * p).is_ok());
    kho::Status st = s.rs.add(5 * p, 6 * p);
    EXPECT_EQ(st.code(), Err::Capacity) << st.message();
    s.rs.normalize();
    EXPECT_EQ(s.ranges(), (std::vector<Range>{{0, p}, {10 * p, 11 * p}}));
}

TEST(RangeSet, FullSetStillTakesRangesThatTouchWhatItHolds) {
    Set s(2);
    ASSERT_TRUE(s.rs.add(100, 110).is_ok());
    ASSERT_TRUE(s.rs.add(0, 10).is_ok());
    ASSERT_TRUE(s.rs.add(10, 20).is_ok());   // touches [0,10) from the right
    ASSERT_TRUE(s.rs.add(90, 100).is_ok());  // touches [100,110) from the left
    ASSERT_TRUE(s.rs.add(15, 95).is_ok());   // bridges both: one range left
    s.rs.normalize();
    EXPECT_EQ(s.ranges(), (std::vector<Range>{{0, 110}}));
}

// Regression (issue 9, defect 3): a wrapped end was dropped as "empty".
// A set near or at capacity takes ranges by appending, inserting in
// place, or merging into what it holds; whatever path an add takes, the
// set holds exactly the ranges added so far, and a Capacity error leaves
// it as it was before that add.
TEST(RangeSet, NearlyFullSetsMatchTheModel) {
    std::mt19937_64 rng(11);
    for (int round = 0; round < 400; ++round) {
        size_t cap = 2 + rng() % 40;
        Set s(cap);
        Model m;
        for (int i = 0; i < 120; ++i) {
            uint64_t a = rng() % kUniverse, len = 1 + rng() % 5;
            uint64_t e = std::min(kUniverse, a + len);
            kho::Status st = s.rs.add(a, e);
            if (!st) {
                ASSERT_EQ(st.code(), Err::Capacity);
                break;
            }
            m.add(a, e);
        }
        s.rs.normalize();
        ASSERT_EQ(s.ranges(), m.ranges()) << "round " << round;
    }
}

TEST(RangeSet, WrappedRangeIsAnErrorNotDropped) {
    Set s(2);
    kho::Status st = s.rs.add(0xfffffffffffff000ull, 0);
    EXPECT_EQ(st.code(), Err::BadPointer);
    EXPECT_STREQ(st.message(), "range 0xfffffffffffff000-0x0 wraps past 2^64");
}

TEST(RangeSet, FirstOverlapNamesBytesAddedTwice) {
    Set s(8);
    ASSERT_TRUE(s.rs.add(0, 10).is_ok());
    ASSERT_TRUE(s.rs.add(10, 20).is_ok());  // touching: no overlap
    s.rs.normalize();
    EXPECT_TRUE(s.rs.first_overlap().empty());
    ASSERT_TRUE(s.rs.add(50, 60).is_ok());
    ASSERT_TRUE(s.rs.add(30, 40).is_ok());
    ASSERT_TRUE(s.rs.add(35, 52).is_ok());  // unsorted: found by normalize
    s.rs.normalize();
    EXPECT_EQ(s.rs.first_overlap(), (Range{35, 40}));
    s.rs.clear();
    EXPECT_TRUE(s.rs.first_overlap().empty());
}

TEST(PhysRange, SpansRefuseEveryWrap) {
    Range r;
    EXPECT_TRUE(kho::page_span(0x1001, 0x1000, &r));
    EXPECT_EQ(r, (Range{0x1000, 0x3000}));
    EXPECT_FALSE(kho::page_span(0xfffffffffffff010ull, 0x20, &r));  // rounds past 2^64
    EXPECT_FALSE(kho::page_span(0xfffffffffffff000ull, 0x2000, &r)); // wraps before rounding
    EXPECT_TRUE(kho::page_span(0xffffffffffffe000ull, 0x1000, &r));
    EXPECT_FALSE(kho::byte_span(~0ull, 2, &r));
    EXPECT_FALSE(kho::block_span(0, 1ull << 40, 1ull << 30, &r));
    EXPECT_TRUE(kho::block_span(0x1000, 3, 0x1000, &r));
    EXPECT_EQ(r, (Range{0x1000, 0x4000}));
    EXPECT_TRUE(kho::below_phys_limit(Range{0, kho::kPhysLimit}));
    EXPECT_FALSE(kho::below_phys_limit(Range{0, kho::kPhysLimit + 1}));
}

}  // namespace
