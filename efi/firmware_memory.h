// The firmware's memory: map snapshots into loader storage, physical
// memory access through UEFI's identity map (checked against the map, so a
// bad pointer in a KHO state fails instead of faulting), and page
// allocation at fixed addresses.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../loader/firmware.h"
#include "../loader/memory_plan.h"
#include "../loader/phys_mem.h"
#include "../loader/range_set.h"
#include "../loader/status.h"

namespace khoefi {

using kho::MemoryMapSnapshot;

// GetMemoryMap() into `buffer` (no allocation).
kho::Status get_memory_map(void* buffer, size_t capacity, MemoryMapSnapshot* out);

// The number of descriptors the firmware's map holds right now and their
// size (a GetMemoryMap() call with no buffer), for sizing storage.
kho::Status memory_map_size(size_t* count, size_t* descriptor_size);

// AllocatePool(EfiLoaderData). Only for use once a state is protected (or
// when there is none): before that, pool memory could land on it.
kho::Status allocate_pool(size_t bytes, void** out);

// Identity-mapped RAM as the memory map lists it (types Linux calls RAM).
// The map is checked as hostile input by kho::firmware_ram(); storage of
// one range per descriptor the map buffer can hold never runs out.
class EfiPhysMem : public kho::FirmwareRam {
public:
    EfiPhysMem(kho::Range* storage, size_t capacity) : ram_(storage, capacity) {}
    kho::Status load(const kho::FirmwareMemoryMap& map) override;
    const uint8_t* view(uint64_t addr, uint64_t len) const override;
    bool is_ram(uint64_t addr, uint64_t len) const override;
    // Memory the loader allocated: UEFI identity-maps all of it (UEFI 2.10
    // section 2.3.4), and the firmware's map said it was free RAM.
    uint8_t* writable(uint64_t addr, uint64_t len) override {
        if (addr < 4096 || addr + len < addr) return nullptr;
        return reinterpret_cast<uint8_t*>(static_cast<uintptr_t>(addr));
    }

private:
    kho::RangeSet ram_;
};

// All of physical memory through the identity map (page 0 excepted, a
// null pointer here), for the RAM-retention probe's check only.
class IdentityMem final : public kho::PhysMem {
public:
    const uint8_t* view(uint64_t addr, uint64_t len) const override {
        if (addr < 4096 || len == 0 || addr + len < addr) return nullptr;
        return reinterpret_cast<const uint8_t*>(static_cast<uintptr_t>(addr));
    }
    bool is_ram(uint64_t addr, uint64_t len) const override { return view(addr, len) != nullptr; }
};

// AllocatePages(AllocateAddress) of [start, end) as `efi_type`.
kho::Status allocate_at(uint64_t start, uint64_t end, uint32_t efi_type);
void free_at(uint64_t start, uint64_t end);


}  // namespace khoefi
