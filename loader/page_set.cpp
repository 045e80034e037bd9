#include "page_set.h"

namespace kho {

PageSet::PageSet(uint64_t* slots, size_t slot_count) : slots_(slots), mask_(slot_count - 1) {
    for (size_t i = 0; i < slot_count; ++i) slots_[i] = 0;
}

namespace {
// Page addresses share their low 12 bits; mix the rest (splitmix64 finaliser).
inline size_t hash_page(uint64_t page) {
    uint64_t z = page >> 12;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return size_t(z ^ (z >> 31));
}
}  // namespace

PageSet::Insert PageSet::insert(uint64_t page) {
    if (page == 0) return Insert::Full;
    // Keep the table at most 3/4 full so probes stay short.
    for (size_t i = hash_page(page) & mask_;; i = (i + 1) & mask_) {
        if (slots_[i] == page) return Insert::Present;
        if (slots_[i] == 0) {
            if ((n_ + 1) * 4 > (mask_ + 1) * 3) return Insert::Full;
            slots_[i] = page;
            ++n_;
            return Insert::Added;
        }
    }
}

bool PageSet::contains(uint64_t page) const {
    if (page == 0) return false;
    for (size_t i = hash_page(page) & mask_;; i = (i + 1) & mask_) {
        if (slots_[i] == page) return true;
        if (slots_[i] == 0) return false;
    }
}

}  // namespace kho
