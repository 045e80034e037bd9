#include "range_set.h"

namespace kho {
namespace {

// In-place heapsort by start: no recursion, no allocation, O(n log n)
// worst case (the EFI build has no std::sort and a bounded stack).
void sift_down(Range* a, size_t root, size_t n) {
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n) return;
        if (child + 1 < n && a[child].start < a[child + 1].start) ++child;
        if (!(a[root].start < a[child].start)) return;
        Range t = a[root];
        a[root] = a[child];
        a[child] = t;
        root = child;
    }
}

void heap_sort(Range* a, size_t n) {
    if (n < 2) return;
    for (size_t i = n / 2; i-- > 0;) sift_down(a, i, n);
    for (size_t end = n - 1; end > 0; --end) {
        Range t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift_down(a, 0, end);
    }
}

}  // namespace

Status RangeSet::add(uint64_t start, uint64_t end) {
    if (end < start)
        return Status::error(Err::BadPointer, "range 0x%llx-0x%llx wraps past 2^64",
                             (unsigned long long)start, (unsigned long long)end);
    if (end == start) return Status::ok();
    bool in_order = true;
    if (n_ && sorted_) {
        Range& last = r_[n_ - 1];
        if (start >= last.start) {
            if (start <= last.end) {  // touching or overlapping: extend
                note_overlap(start, end, last);
                if (end > last.end) last.end = end;
                return Status::ok();
            }
        } else {
            in_order = false;
        }
    }
    if (n_ == cap_) return add_to_full(start, end);
    // Nearly full and out of order: insert in place. Appending would
    // unsort the set, and a set hovering below capacity would then be
    // re-sorted at almost every add.
    if (!in_order && n_ + n_ / 16 >= cap_) return insert_sorted(start, end);
    r_[n_++] = Range{start, end};
    // Only an appended range can unsort the set: a full set stays sorted
    // and answers each add in O(log n) (add_to_full).
    if (!in_order) sorted_ = false;
    return Status::ok();
}

// Sorted set: merge into a touching range, or shift the tail up into a
// free slot; Capacity when there is none.
Status RangeSet::insert_sorted(uint64_t start, uint64_t end) {
    size_t i = lower_bound(start);  // first range with end > start
    if ((i > 0 && r_[i - 1].end == start) || (i < n_ && r_[i].start <= end)) return merge_at(i, start, end);
    if (n_ == cap_)
        return Status::error(Err::Capacity, "range set full (%zu ranges) at 0x%llx-0x%llx", cap_,
                             (unsigned long long)start, (unsigned long long)end);
    for (size_t j = n_; j > i; --j) r_[j] = r_[j - 1];
    r_[i] = Range{start, end};
    ++n_;
    return Status::ok();
}

// [start, end) touches r_[i] or r_[i - 1] (lower_bound(start) == i):
// widen that range and swallow the ranges it now reaches.
Status RangeSet::merge_at(size_t i, uint64_t start, uint64_t end) {
    if (i > 0 && r_[i - 1].end == start) --i;
    Range& hit = r_[i];
    note_overlap(start, end, hit);
    if (start < hit.start) hit.start = start;
    if (end > hit.end) hit.end = end;
    size_t next = i + 1;
    while (next < n_ && r_[next].start <= hit.end) {
        note_overlap(r_[next].start, r_[next].end, hit);
        if (r_[next].end > hit.end) hit.end = r_[next].end;
        ++next;
    }
    if (next > i + 1) {  // close the gap the swallowed ranges left
        size_t out = i + 1;
        while (next < n_) r_[out++] = r_[next++];
        n_ = out;
    }
    return Status::ok();
}

// A full set may still take the range: coalescing an unsorted set frees
// slots, and a range that touches one already held needs no slot. Never
// recurses into add() more than once: one normalize, then a binary search.
Status RangeSet::add_to_full(uint64_t start, uint64_t end) {
    if (!sorted_) {
        normalize();
        if (n_ < cap_) return add(start, end);
    }
    return insert_sorted(start, end);
}

void RangeSet::note_overlap(uint64_t start, uint64_t end, const Range& held) {
    if (!overlap_.empty()) return;
    uint64_t s = start > held.start ? start : held.start;
    uint64_t e = end < held.end ? end : held.end;
    if (s < e) overlap_ = Range{s, e};
}

Status RangeSet::add_all(const RangeSet& other) {
    for (const Range& r : other) KHO_TRY(add(r));
    return Status::ok();
}

void RangeSet::normalize() {
    if (!sorted_) heap_sort(r_, n_);
    size_t out = 0;
    for (size_t i = 0; i < n_; ++i) {
        if (out && r_[i].start <= r_[out - 1].end) {
            note_overlap(r_[i].start, r_[i].end, r_[out - 1]);
            if (r_[i].end > r_[out - 1].end) r_[out - 1].end = r_[i].end;
        } else {
            r_[out++] = r_[i];
        }
    }
    n_ = out;
    sorted_ = true;
}

uint64_t RangeSet::total_bytes() const {
    uint64_t sum = 0;
    for (const Range& r : *this) sum += r.size();
    return sum;
}

size_t RangeSet::lower_bound(uint64_t addr) const {
    size_t lo = 0, hi = n_;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r_[mid].end <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool RangeSet::contains(uint64_t start, uint64_t end) const {
    if (end <= start) return true;
    size_t i = lower_bound(start);
    return i < n_ && r_[i].start <= start && end <= r_[i].end;
}

bool RangeSet::intersects(uint64_t start, uint64_t end) const {
    if (end <= start) return false;
    size_t i = lower_bound(start);
    return i < n_ && r_[i].start < end;
}

Status RangeSet::subtract(const RangeSet& other, RangeSet& out) const {
    out.clear();
    size_t j = 0;
    for (const Range& r : *this) {
        uint64_t cur = r.start;
        while (j < other.size() && other[j].end <= cur) ++j;
        size_t k = j;
        while (cur < r.end) {
            if (k >= other.size() || other[k].start >= r.end) {
                KHO_TRY(out.add(cur, r.end));
                break;
            }
            if (other[k].start > cur) KHO_TRY(out.add(cur, other[k].start));
            if (other[k].end >= r.end) break;
            cur = other[k].end > cur ? other[k].end : cur;
            ++k;
        }
    }
    return Status::ok();
}

Status RangeSet::intersect(const RangeSet& other, RangeSet& out) const {
    out.clear();
    size_t i = 0, j = 0;
    while (i < n_ && j < other.size()) {
        uint64_t s = r_[i].start > other[j].start ? r_[i].start : other[j].start;
        uint64_t e = r_[i].end < other[j].end ? r_[i].end : other[j].end;
        if (s < e) KHO_TRY(out.add(s, e));
        if (r_[i].end < other[j].end)
            ++i;
        else
            ++j;
    }
    return Status::ok();
}

}  // namespace kho
