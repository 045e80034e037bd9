// The radix decoder over a fuzzed memory image whose first page is the root
// table. The image repeats over 64 GiB of RAM (fuzz_mem.h), so a map can
// name enough distinct pages to fill the EFI app's visited set and
// protected set; DecodeTarget checks the step bound and what was accepted.
#include "fuzz_mem.h"
#include "loader/kho_radix_map.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    kho::fuzz::FuzzMem mem(data, size);
    kho::fuzz::DecodeTarget target(mem);
    if (kho::decode_radix_map(mem, kho::fuzz::FuzzMem::kBase, kho::abi::radix::kGeometry4K,
                              target.visited(), target.sink()))
        target.check_accepted();
    return 0;
}
