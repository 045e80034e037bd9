// A PhysMem over the fuzzer's bytes: the input becomes RAM at a fixed
// physical base, so pointers the fuzzer writes into map pages can land
// inside it (small, page-aligned values the comparison tracing finds), or
// anywhere else, where reads must fail cleanly.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <vector>

#include "loader/phys_mem.h"

namespace kho::fuzz {

class FuzzMem : public PhysMem {
public:
    static constexpr uint64_t kBase = 0x1000;

    // Copies into page-aligned storage so views are aligned as in RAM.
    FuzzMem(const uint8_t* data, size_t size) : bytes_((size + 4095) & ~size_t(4095)) {
        if (size) memcpy(bytes_.data(), data, size);
    }
    const uint8_t* view(uint64_t addr, uint64_t len) const override {
        if (addr < kBase || addr - kBase > bytes_.size() || len > bytes_.size() - (addr - kBase))
            return nullptr;
        return bytes_.data() + (addr - kBase);
    }
    bool is_ram(uint64_t addr, uint64_t len) const override { return view(addr, len) != nullptr; }

private:
    std::vector<uint8_t> bytes_;
};

}  // namespace kho::fuzz
