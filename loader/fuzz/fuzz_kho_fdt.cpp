// The root KHO FDT reader on arbitrary pages (and the sub-FDT headers of
// kho-v1 sub-nodes, which the input can point back into).
#include "fuzz_mem.h"
#include "loader/kho_fdt_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    kho::fuzz::FuzzMem mem(data, size);
    static kho::KhoState state;
    (void)kho::read_kho_fdt(mem, kho::fuzz::FuzzMem::kBase, &state);
    return 0;
}
