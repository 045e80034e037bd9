#include "preserved_memory.h"

#include "phys_range.h"

namespace kho {

Status block_run_range(uint64_t phys, unsigned order, uint64_t count, uint64_t page_size, Range* out) {
    // page_size << order must keep every bit: order at most the leading
    // zero bits of the page size.
    if (order > unsigned(__builtin_clzll(page_size)) || !block_span(phys, count, page_size << order, out))
        return Status::error(Err::BadMap, "%llu order-%u blocks at 0x%llx wrap past 2^64",
                             (unsigned long long)count, order, (unsigned long long)phys);
    return Status::ok();
}

Status map_page_range(uint64_t phys, uint64_t size, uint64_t page_size, Range* out) {
    if (!page_span(phys, size, out, page_size))
        return Status::error(Err::BadPointer, "map page 0x%llx+0x%llx wraps past 2^64",
                             (unsigned long long)phys, (unsigned long long)size);
    return Status::ok();
}

Status RangeSetSink::blocks(uint64_t phys, unsigned order, uint64_t count) {
    block_count_ += count;
    Range r{0, 0};
    KHO_TRY(block_run_range(phys, order, count, page_size_, &r));
    return blocks_.add(r);
}

Status RangeSetSink::metadata(uint64_t phys, uint64_t size) {
    ++metadata_count_;
    Range r{0, 0};
    KHO_TRY(map_page_range(phys, size, page_size_, &r));
    return metadata_.add(r);
}

}  // namespace kho
