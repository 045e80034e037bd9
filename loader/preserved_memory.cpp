#include "preserved_memory.h"

#include "phys_range.h"

namespace kho {

Status RangeSetSink::blocks(uint64_t phys, unsigned order, uint64_t count) {
    block_count_ += count;
    Range r;
    // page_size_ << order must keep every bit: order at most the leading
    // zero bits of the page size.
    if (order > unsigned(__builtin_clzll(page_size_)) ||
        !block_span(phys, count, page_size_ << order, &r))
        return Status::error(Err::BadMap, "%llu order-%u blocks at 0x%llx wrap past 2^64",
                             (unsigned long long)count, order, (unsigned long long)phys);
    return blocks_.add(r);
}

Status RangeSetSink::metadata(uint64_t phys, uint64_t size) {
    ++metadata_count_;
    Range r;
    if (!page_span(phys, size, &r, page_size_))
        return Status::error(Err::BadPointer, "map page 0x%llx+0x%llx wraps past 2^64",
                             (unsigned long long)phys, (unsigned long long)size);
    return metadata_.add(r);
}

}  // namespace kho
