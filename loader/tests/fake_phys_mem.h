// FakePhysMem: a sparse model of physical RAM for host tests.
//
// Two kinds of memory, so that a test can describe a machine with terabytes
// of address space while only paying for the pages the map encoders write:
//  - backed regions: contiguous, zero-initialised, readable and writable
//    (calloc'd, so untouched pages cost nothing);
//  - declared RAM: ranges that is_ram() accepts but that hold no bytes
//    (view() and read() fail there), e.g. the preserved blocks themselves,
//    which the decoders never dereference.
// Anything else is not RAM: view(), read() and is_ram() fail.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <map>
#include <memory>
#include <vector>

#include "loader/phys_mem.h"

namespace khotest {

class FakePhysMem : public kho::PhysMem {
public:
    FakePhysMem() = default;
    FakePhysMem(const FakePhysMem&) = delete;
    FakePhysMem& operator=(const FakePhysMem&) = delete;

    // Adds a backed, zero-filled region [base, base + size). Regions must
    // not overlap each other; returns false if they would.
    bool add_backed(uint64_t base, uint64_t size);
    // Declares [base, base + size) as RAM without bytes behind it.
    void declare_ram(uint64_t base, uint64_t size);

    // Writes into backed memory; false (and nothing written) if any byte of
    // the destination is not backed.
    bool write(uint64_t addr, const void* src, uint64_t len);
    bool write_u64(uint64_t addr, uint64_t value) { return write(addr, &value, 8); }
    bool write_u32(uint64_t addr, uint32_t value) { return write(addr, &value, 4); }
    // Reads a u64 from backed memory; aborts the test binary if unbacked,
    // because every caller is test code that put the value there itself.
    uint64_t peek_u64(uint64_t addr) const;
    // Mutable pointer into one backed region, nullptr if not backed.
    uint8_t* mutable_view(uint64_t addr, uint64_t len);

    const uint8_t* view(uint64_t addr, uint64_t len) const override;
    bool is_ram(uint64_t addr, uint64_t len) const override;

    // How many view() calls were made (benchmarks and "no copy" checks).
    uint64_t view_calls() const { return view_calls_; }

private:
    struct Region {
        uint64_t base;
        uint64_t size;
        std::unique_ptr<uint8_t, void (*)(void*)> bytes;
    };
    const Region* find_backed(uint64_t addr, uint64_t len) const;

    std::map<uint64_t, Region> backed_;            // keyed by base
    std::vector<std::pair<uint64_t, uint64_t>> declared_;  // [start, end)
    mutable uint64_t view_calls_ = 0;
};

}  // namespace khotest
