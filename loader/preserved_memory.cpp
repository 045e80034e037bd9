#include "preserved_memory.h"

namespace kho {

Status RangeSetSink::blocks(uint64_t phys, unsigned order, uint64_t count) {
    uint64_t block = page_size_ << order;
    block_count_ += count;
    return blocks_.add(phys, phys + count * block);
}

Status RangeSetSink::metadata(uint64_t phys, uint64_t size) {
    ++metadata_count_;
    Range r = page_round_out(phys, phys + size, page_size_);
    return metadata_.add(r);
}

}  // namespace kho
