// A set of 64-bit addresses in static storage (open addressing, linear
// probing): the map readers use it to refuse a page reached twice, which
// in a hostile map would be a cycle (kho-v1 chunk list) or a shared radix
// node that multiplies the walk.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace tk {

class PageHashSet {
public:
    static constexpr size_t kSlots = 1 << 17;  // power of two
    void clear();
    enum class Result { Added, Present, Full };
    Result insert(uint64_t key);  // key != 0
    size_t size() const { return n_; }

private:
    uint64_t slots_[kSlots] = {};
    size_t n_ = 0;
};

}  // namespace tk
