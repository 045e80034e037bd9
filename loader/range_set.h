// RangeSet: sorted, coalesced, half-open physical ranges in caller-owned
// storage (no heap in loader/). The currency of the memory planner.
//
// add() is O(1) when ranges arrive in ascending order (what the map
// decoders produce within one page order) and merely appends otherwise;
// normalize() then sorts and coalesces once. Queries need a normalized set.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "status.h"

namespace kho {

struct Range {
    uint64_t start;
    uint64_t end;  // exclusive
    uint64_t size() const { return end - start; }
    bool empty() const { return end <= start; }
    bool overlaps(const Range& o) const { return start < o.end && o.start < end; }
    bool contains(const Range& o) const { return start <= o.start && o.end <= end; }
};

class RangeSet {
public:
    RangeSet(Range* storage, size_t capacity) : r_(storage), cap_(capacity) {}

    // Adds [start, end); an empty range is a no-op. Fails with
    // Err::Capacity when the range needs a slot and none is left even after
    // coalescing, and with Err::BadPointer when end < start (a wrapped end
    // is never dropped silently).
    Status add(uint64_t start, uint64_t end);
    Status add(const Range& r) { return add(r.start, r.end); }
    Status add_all(const RangeSet& other);

    // Sorts and coalesces (touching ranges merge). Idempotent.
    void normalize();
    bool normalized() const { return sorted_; }

    void clear() {
        n_ = 0;
        sorted_ = true;
        overlap_ = Range{0, 0};
    }
    size_t size() const { return n_; }
    size_t capacity() const { return cap_; }
    const Range& operator[](size_t i) const { return r_[i]; }
    const Range* begin() const { return r_; }
    const Range* end() const { return r_ + n_; }
    uint64_t total_bytes() const;
    // The first bytes two added ranges both covered (touching is not
    // overlapping), as far as coalescing has met them: complete once the set
    // is normalized. Empty when no byte was added twice. Lets a caller that
    // must refuse double claims (a page preserved twice) check in passing.
    Range first_overlap() const { return overlap_; }

    // Queries on a normalized set.
    bool contains(uint64_t start, uint64_t end) const;
    bool intersects(uint64_t start, uint64_t end) const;
    // Index of the first range with end > addr (n_ if none).
    size_t lower_bound(uint64_t addr) const;

    // out = this - other; out = this & other (both normalized; out is
    // cleared first and comes out normalized).
    Status subtract(const RangeSet& other, RangeSet& out) const;
    Status intersect(const RangeSet& other, RangeSet& out) const;

private:
    Status add_to_full(uint64_t start, uint64_t end);
    Status insert_sorted(uint64_t start, uint64_t end);
    Status merge_at(size_t i, uint64_t start, uint64_t end);
    void note_overlap(uint64_t start, uint64_t end, const Range& held);

    Range* r_;
    size_t cap_;
    size_t n_ = 0;
    bool sorted_ = true;
    Range overlap_{0, 0};
};


}  // namespace kho
