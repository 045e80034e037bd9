// PhysMem: read-only access to physical memory, failing (not faulting) on
// addresses outside known RAM. EFI: identity map checked against the
// memory map; host: a sparse image made of RAM dumps.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace kho {

class PhysMem {
public:
    virtual ~PhysMem() = default;

    // A pointer to [addr, addr + len) if the whole range is backed by one
    // known RAM region, else nullptr. Decoders use this for page-sized
    // reads so dense maps are walked without copying.
    virtual const uint8_t* view(uint64_t addr, uint64_t len) const = 0;

    // True if [addr, addr + len) is entirely known RAM (it may span regions).
    virtual bool is_ram(uint64_t addr, uint64_t len) const = 0;

    // Copies [addr, addr + len) into dst; false if any byte is not RAM.
    bool read(uint64_t addr, void* dst, uint64_t len) const;

    bool read_u64(uint64_t addr, uint64_t* out) const { return read(addr, out, 8); }
};

}  // namespace kho
