// The radix decoder over a fuzzed sparse memory image whose first page is
// the root table.
#include "fuzz_mem.h"
#include "loader/kho_radix_map.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    kho::fuzz::FuzzMem mem(data, size);
    kho::fuzz::DecodeTarget target;
    if (kho::decode_radix_map(mem, kho::fuzz::FuzzMem::kBase, kho::abi::radix::kGeometry4K,
                              target.visited(), target.sink()))
        target.check_accepted();
    return 0;
}
