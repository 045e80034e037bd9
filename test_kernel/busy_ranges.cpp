#include "busy_ranges.h"

namespace tk {

size_t BusyRanges::first_ending_after(uint64_t addr) const {
    size_t lo = 0, hi = n_;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r_[mid].end > addr) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

bool BusyRanges::add(uint64_t start, uint64_t end) {
    if (end <= start) return true;
    // Ranges that touch or overlap [start, end) merge into one.
    size_t i = 0;
    {
        size_t lo = 0, hi = n_;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (r_[mid].end >= start) hi = mid;
            else lo = mid + 1;
        }
        i = lo;
    }
    size_t j = i;
    while (j < n_ && r_[j].start <= end) {
        if (r_[j].start < start) start = r_[j].start;
        if (r_[j].end > end) end = r_[j].end;
        ++j;
    }
    if (j == i) {
        if (n_ == kCapacity) return false;
        for (size_t k = n_; k > i; --k) r_[k] = r_[k - 1];
        ++n_;
    } else if (j > i + 1) {
        size_t gone = j - i - 1;
        for (size_t k = i + 1; k + gone < n_; ++k) r_[k] = r_[k + gone];
        n_ -= gone;
    }
    r_[i] = PhysRange{start, end};
    return true;
}

bool BusyRanges::overlaps(uint64_t start, uint64_t end) const {
    size_t i = first_ending_after(start);
    return i < n_ && r_[i].start < end;
}

uint64_t BusyRanges::allocate(const PhysRange& window, uint64_t size, uint64_t align) {
    uint64_t at = (window.start + align - 1) & ~(align - 1);
    while (at >= window.start && at + size <= window.end && at + size > at) {
        size_t i = first_ending_after(at);
        if (i == n_ || r_[i].start >= at + size) {
            if (!add(at, at + size)) return 0;
            return at;
        }
        at = (r_[i].end + align - 1) & ~(align - 1);
    }
    return 0;
}

bool BusyRanges::claim(uint64_t at, uint64_t size) {
    if (overlaps(at, at + size)) return false;
    return add(at, at + size);
}

}  // namespace tk
