// What the map decoders produce: preserved blocks (as the map encodes them:
// runs of naturally aligned 2^order-page blocks) and the map's own metadata
// pages (chunks, bitmaps, radix nodes and leaves), streamed into a sink so
// that no per-page array is ever needed.
#pragma once
#include <stdint.h>
#include "range_set.h"
#include "status.h"

namespace kho {

class PreservedMemorySink {
public:
    virtual ~PreservedMemorySink() = default;
    // `count` consecutive blocks of 2^order pages starting at phys (so
    // [phys, phys + count * (page_size << order))). Decoders merge adjacent
    // set bits of one bitmap into one call.
    virtual Status blocks(uint64_t phys, unsigned order, uint64_t count) = 0;
    // One page (or, for 512-byte kho-v1 bitmaps, the object rounded to its
    // page) of map metadata that must survive until the consumer walked it.
    virtual Status metadata(uint64_t phys, uint64_t size) = 0;
};

// What a sink call names, as a checked range: `count` blocks of
// 2^order pages from `phys` (Err::BadMap if it wraps past 2^64), and a map
// object rounded out to its pages (Err::BadPointer if it wraps). Every
// sink that turns calls into ranges goes through these.
Status block_run_range(uint64_t phys, unsigned order, uint64_t count, uint64_t page_size, Range* out);
Status map_page_range(uint64_t phys, uint64_t size, uint64_t page_size, Range* out);

// The default sink: everything into coalescing range sets.
class RangeSetSink : public PreservedMemorySink {
public:
    RangeSetSink(RangeSet& blocks, RangeSet& metadata, uint64_t page_size = 4096)
        : blocks_(blocks), metadata_(metadata), page_size_(page_size) {}
    Status blocks(uint64_t phys, unsigned order, uint64_t count) override;
    Status metadata(uint64_t phys, uint64_t size) override;
    uint64_t block_count() const { return block_count_; }
    uint64_t metadata_count() const { return metadata_count_; }

private:
    RangeSet& blocks_;
    RangeSet& metadata_;
    uint64_t page_size_;
    uint64_t block_count_ = 0;
    uint64_t metadata_count_ = 0;
};

}  // namespace kho
