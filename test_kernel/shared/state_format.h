// The KHO state formats a producer (test_kernel's producer mode, `khotool
// synth`) can write, by the name both accept (tk.format=, --format): the
// root compatible, the map encoding and how the test manifest records the
// choice. Header-only and freestanding: shared by the guest and the host.
#pragma once
#include <stdint.h>
#include "../../abi/kho_fdt.h"
#include "../../abi/kho_v1.h"
#include "test_manifest.h"

namespace tk::state {

struct Format {
    kho::abi::KhoVersion version;
    uint32_t manifest_format;              // manifest::Format
    const char* compatible;                // root "compatible"
    kho::abi::v1::BitmapLayout v1_layout;  // kho-v1 bitmaps (ignored for v2+)
    bool v1() const { return version == kho::abi::KhoVersion::V1; }
};

namespace detail {
inline bool same(const char* a, const char* b) {
    while (*a && *a == *b) ++a, ++b;
    return *a == *b;
}
}  // namespace detail

// kho-v1, kho-v1-512, kho-v2, kho-v3, kho-v4; false for anything else
// (multikernel-v1 has no map and no manifest: khotool synth builds it on
// its own). An if-chain rather than a table: a table of pointers would
// need run-time relocations, which test_kernel's image must not have.
inline bool find_format(const char* name, Format* f) {
    using kho::abi::KhoVersion;
    using kho::abi::v1::BitmapLayout;
    namespace mf = manifest;
    if (detail::same(name, "kho-v4")) *f = {KhoVersion::V4, mf::kFormatV4, kho::abi::kCompatV4, BitmapLayout::Page};
    else if (detail::same(name, "kho-v3")) *f = {KhoVersion::V3, mf::kFormatV3, kho::abi::kCompatV3, BitmapLayout::Page};
    else if (detail::same(name, "kho-v2")) *f = {KhoVersion::V2, mf::kFormatV2, kho::abi::kCompatV2, BitmapLayout::Page};
    else if (detail::same(name, "kho-v1")) *f = {KhoVersion::V1, mf::kFormatV1Page, kho::abi::kCompatV1, BitmapLayout::Page};
    else if (detail::same(name, "kho-v1-512"))
        *f = {KhoVersion::V1, mf::kFormatV1Bytes512, kho::abi::kCompatV1, BitmapLayout::Bytes512};
    else return false;
    return true;
}

}  // namespace tk::state
