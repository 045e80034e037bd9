// The kho-v1 chunk-list decoder over a fuzzed memory image whose first page
// is the first chunk; the first input byte picks the bitmap mode. The image
// repeats over 64 GiB of RAM (fuzz_mem.h), so chunk lists and bitmaps can
// reach the EFI app's capacities.
#include "fuzz_mem.h"
#include "loader/kho_v1_map.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    auto mode = static_cast<kho::V1BitmapMode>(data[0] % 3);
    kho::fuzz::FuzzMem mem(data + 1, size - 1);
    kho::fuzz::DecodeTarget target(mem);
    if (kho::decode_kho_v1_map(mem, kho::fuzz::FuzzMem::kBase, mode, target.visited(),
                               target.sink()))
        target.check_accepted();
    return 0;
}
