// The integrity manifest parser; a parsed manifest rebuilds byte for byte.
#include <string.h>

#include <vector>

#include "loader/integrity_manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // Entries are read in place, so give them their natural alignment.
    std::vector<uint64_t> aligned((size + 7) / 8);
    if (size) memcpy(aligned.data(), data, size);
    kho::ManifestView view;
    if (!kho::parse_manifest(aligned.data(), size, &view)) return 0;
    std::vector<uint8_t> out(size);
    size_t n = 0;
    if (!kho::build_manifest(view.entries, view.count, out.data(), out.size(), &n)) __builtin_trap();
    if (n != size || memcmp(out.data(), data, size) != 0) __builtin_trap();
    return 0;
}
