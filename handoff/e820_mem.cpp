#include "e820_mem.h"

#include "../test_kernel/paging.h"

namespace handoff {

bool E820Mem::is_ram(uint64_t addr, uint64_t len) const {
    uint64_t end = addr + len;
    return end >= addr && end <= tk::kIdentityLimit && boot_.is_ram(addr, end);
}

const uint8_t* E820Mem::view(uint64_t addr, uint64_t len) const {
    return is_ram(addr, len) ? reinterpret_cast<const uint8_t*>(addr) : nullptr;
}

kho::Status e820_ram(const tk::BootInfo& boot, kho::RangeSet& out) {
    out.clear();
    for (uint32_t i = 0; i < boot.e820_count; ++i) {
        const auto& e = boot.e820[i];
        if (e.type != kho::abi::x86::kE820Ram || e.addr >= tk::kIdentityLimit) continue;
        uint64_t end = e.addr + e.size < tk::kIdentityLimit ? e.addr + e.size : tk::kIdentityLimit;
        KHO_TRY(out.add(e.addr, end));
    }
    out.normalize();
    return kho::Status::ok();
}

}  // namespace handoff
