// The integrity manifest parser; a parsed manifest rebuilds byte for byte.
#include <string.h>

#include <vector>

#include "loader/integrity_manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // Parsed in place from the fuzzer's (unaligned) bytes, as from a UEFI
    // variable buffer.
    kho::ManifestView view;
    if (!kho::parse_manifest(data, size, &view)) return 0;
    std::vector<kho::abi::manifest::Entry> entries(view.count);
    for (uint32_t i = 0; i < view.count; ++i) entries[i] = view.entry(i);
    std::vector<uint8_t> out(size);
    size_t n = 0;
    if (!kho::build_manifest(entries.data(), view.count, out.data(), out.size(), &n)) __builtin_trap();
    if (n != size || memcmp(out.data(), data, size) != 0) __builtin_trap();
    return 0;
}
