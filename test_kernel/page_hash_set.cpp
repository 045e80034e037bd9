#include "page_hash_set.h"

namespace tk {

void PageHashSet::clear() {
    for (size_t i = 0; i < kSlots; ++i) slots_[i] = 0;
    n_ = 0;
}

PageHashSet::Result PageHashSet::insert(uint64_t key) {
    if (n_ >= kSlots / 2) return Result::Full;  // keep probes short
    uint64_t h = key * 0x9e3779b97f4a7c15ull;
    for (size_t i = (h >> 40) & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
        if (slots_[i] == key) return Result::Present;
        if (slots_[i] == 0) {
            slots_[i] = key;
            ++n_;
            return Result::Added;
        }
    }
}

}  // namespace tk
