// Decoder of the kho-v1 preserved-memory map (khoser_mem_chunk list with
// bitmaps), docs/kho-abi.md section 4.
#pragma once
#include <stdint.h>
#include "../abi/kho_v1.h"
#include "page_set.h"
#include "phys_mem.h"
#include "preserved_memory.h"
#include "status.h"

namespace kho {

// "kho-v1" does not say which bitmap size its producer used: Auto picks
// Page when every bitmap pointer is page aligned (6.17.9+: bitmaps are
// whole pages) and Bytes512 otherwise (6.16: kzalloc()ed 512-byte objects).
enum class V1BitmapMode : uint8_t { Auto, Bytes512, Page };

struct V1DecodeStats {
    uint64_t chunks = 0;
    uint64_t bitmaps = 0;
    abi::v1::BitmapLayout layout = abi::v1::BitmapLayout::Page;
};

// Walks the chunk list from `first_chunk` and streams blocks and metadata
// into `sink`. Every chunk and bitmap pointer is checked (alignment, RAM,
// visited once via `visited`). A zero `first_chunk` is an error: 6.19+
// consumers refuse it, so handing it on would lose the state silently.
Status decode_kho_v1_map(const PhysMem& mem, uint64_t first_chunk, V1BitmapMode mode,
                         PageSet& visited, PreservedMemorySink& sink,
                         V1DecodeStats* stats = nullptr);

}  // namespace kho
