// The integrity manifest parser; a parsed manifest (version 1, CRC-32, or
// version 2, CRC-32C) rebuilds byte for byte at its own version.
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
    if (view.version != kho::abi::manifest::kVersionCrc32 && view.version != kho::abi::manifest::kVersionCrc32c)
        __builtin_trap();
    if (!kho::build_manifest_as(view.version, entries.data(), view.count, out.data(), out.size(), &n))
        __builtin_trap();
    if (n != size || memcmp(out.data(), data, size) != 0) __builtin_trap();
    return 0;
}
