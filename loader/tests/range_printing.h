// Equality and printing of kho::Range for GoogleTest assertions. The core
// defines neither (it needs no comparison and has no iostreams); tests
// include this one header instead of each declaring its own. Static, so
// no test file's helpers can clash with another's at link time.
#pragma once
#include <ostream>

#include "loader/range_set.h"

namespace kho {
[[maybe_unused]] static bool operator==(const Range& a, const Range& b) {
    return a.start == b.start && a.end == b.end;
}
[[maybe_unused]] static std::ostream& operator<<(std::ostream& os, const Range& r) {
    return os << "[0x" << std::hex << r.start << ",0x" << r.end << std::dec << ")";
}
}  // namespace kho
