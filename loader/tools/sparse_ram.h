// Host PhysMem over RAM dumps: each file is a raw image of guest RAM
// starting at a physical base, as QEMU's pmemsave writes it (often sparse
// and several GiB, so files are mmapped, never read whole).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "loader/phys_mem.h"

namespace kho::tools {

class SparseRam : public PhysMem {
public:
    SparseRam() = default;
    ~SparseRam() override;
    SparseRam(const SparseRam&) = delete;
    SparseRam& operator=(const SparseRam&) = delete;

    // Maps `path` at physical `base`. Returns an error message, or "".
    std::string add_file(const std::string& path, uint64_t base);
    // Parses "FILE[@BASE]" (BASE in C notation, default 0).
    std::string add_spec(const std::string& spec);

    const uint8_t* view(uint64_t addr, uint64_t len) const override;
    bool is_ram(uint64_t addr, uint64_t len) const override;

private:
    struct Region {
        uint64_t base;
        uint64_t size;
        const uint8_t* data;
    };
    std::vector<Region> regions_;  // sorted by base, non-overlapping
};

}  // namespace kho::tools
