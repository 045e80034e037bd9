// PageSet: an open-addressing set of page addresses in caller storage, used
// by the map decoders to refuse any page visited twice (a cycle in a kho-v1
// chunk list, or a radix node shared by two parents, which would otherwise
// multiply the walk up to 512^5 times).
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace kho {

class PageSet {
public:
    // `slots` must be a power of two in size and zero-initialised here.
    PageSet(uint64_t* slots, size_t slot_count);

    enum class Insert { Added, Present, Full };
    // Page 0 cannot be inserted (0 is the empty marker; it is also NULL in
    // every KHO pointer, so decoders reject it before asking).
    Insert insert(uint64_t page);
    bool contains(uint64_t page) const;
    size_t size() const { return n_; }
    size_t capacity() const { return mask_ + 1; }

private:
    uint64_t* slots_;
    size_t mask_;
    size_t n_ = 0;
};

}  // namespace kho
