#include "manifest_place.h"

#include "../abi/khoboot_vendor.h"

namespace kho {
namespace {

constexpr uint64_t kPage = abi::kPageSize;

uint64_t page_up(uint64_t v) { return (v + kPage - 1) & ~(kPage - 1); }
uint64_t page_down(uint64_t v) { return v & ~(kPage - 1); }

// Highest page-aligned place of `size` bytes in `r` at or above `floor`.
bool top_fit(const Range& r, uint64_t size, uint64_t floor, uint64_t* addr) {
    uint64_t lo = page_up(r.start > floor ? r.start : floor);
    uint64_t end = page_down(r.end);
    if (end < lo || end - lo < size) return false;
    *addr = page_down(end - size);
    return true;
}

// Lowest page-aligned place of `size` bytes in `r` at or above `floor`.
bool bottom_fit(const Range& r, uint64_t size, uint64_t floor, uint64_t* addr) {
    uint64_t lo = page_up(r.start > floor ? r.start : floor);
    uint64_t end = page_down(r.end);
    if (end < lo || end - lo < size) return false;
    *addr = lo;
    return true;
}

}  // namespace

Status choose_manifest_place(const RangeSet& ram, const RangeSet& busy, uint64_t size,
                             RangeSet& free_work, uint64_t* addr) {
    if (!size) return Status::error(Err::BadPointer, "empty manifest");
    size = page_up(size);
    KHO_TRY(ram.subtract(busy, free_work));
    for (size_t i = free_work.size(); i-- > 0;)
        if (top_fit(free_work[i], size, kManifestHighFloor, addr)) return Status::ok();
    for (const Range& r : free_work)
        if (bottom_fit(r, size, kManifestLowFloor, addr)) return Status::ok();
    return Status::error(Err::OutOfRam, "no free RAM for a manifest of 0x%llx bytes outside the state and scratch",
                         (unsigned long long)size);
}

}  // namespace kho
