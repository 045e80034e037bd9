// Physical memory as the handoff image sees it: the identity map of
// test_kernel/paging.h over the e820 RAM the previous kernel passed in
// boot_params (its firmware map, e820_table_kexec).
#pragma once
#include "../loader/phys_mem.h"
#include "../loader/range_set.h"
#include "../test_kernel/boot_info.h"

namespace handoff {

class E820Mem : public kho::PhysMem {
public:
    explicit E820Mem(const tk::BootInfo& boot) : boot_(boot) {}
    const uint8_t* view(uint64_t addr, uint64_t len) const override;
    bool is_ram(uint64_t addr, uint64_t len) const override;

private:
    const tk::BootInfo& boot_;
};

// e820 RAM below the identity map's limit, as a normalized set.
kho::Status e820_ram(const tk::BootInfo& boot, kho::RangeSet& out);

}  // namespace handoff
