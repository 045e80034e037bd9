#include "phys_mem.h"

namespace kho {

bool PhysMem::read(uint64_t addr, void* dst, uint64_t len) const {
    uint8_t* out = static_cast<uint8_t*>(dst);
    // Copy region by region: a read may legitimately straddle two RAM
    // regions that the backend keeps apart (two dump files, two EFI
    // descriptors), so fall back to page-sized pieces when one view fails.
    while (len) {
        if (const uint8_t* p = view(addr, len)) {
            __builtin_memcpy(out, p, len);
            return true;
        }
        uint64_t piece = 4096 - (addr & 4095);
        if (piece > len) piece = len;
        const uint8_t* p = view(addr, piece);
        if (!p) return false;
        __builtin_memcpy(out, p, piece);
        out += piece;
        addr += piece;
        len -= piece;
    }
    return true;
}

}  // namespace kho
