// The handover descriptor parser; whatever parses must rebuild to the same
// bytes (the format has exactly one encoding).
#include <string.h>

#include "loader/handover_descriptor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    kho::HandoverDescriptor d;
    if (!kho::parse_handover_descriptor(data, size, &d)) return 0;
    static uint8_t out[kho::abi::descriptor::kMaxSize];
    size_t n = 0;
    if (!kho::build_handover_descriptor(d, out, sizeof(out), &n)) __builtin_trap();
    if (n != size || memcmp(out, data, n) != 0) __builtin_trap();
    return 0;
}
