// PhysMem over /dev/mem (or a file standing in for it in host tests), for
// `khotool export`: the running kernel's RAM as the loader's core reads it.
#pragma once
#include <stdint.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "loader/phys_mem.h"
#include "loader/range_set.h"

namespace kho::tools::exporting {

// RAM ranges come from /proc/iomem and are mapped on demand in 2 MiB
// windows that stay mapped for the object's life, so views stay valid as
// the core expects (decoders hold a parent node's view while reading its
// children) and nothing is copied.
class DevMem : public PhysMem {
public:
    DevMem() = default;
    ~DevMem() override;
    DevMem(const DevMem&) = delete;
    DevMem& operator=(const DevMem&) = delete;

    // Opens `path` read-only; `ram` is sorted and coalesced. Returns an
    // error message or "".
    std::string open(const std::string& path, const std::vector<Range>& ram);
    // Maps one page of RAM above 1 MiB and reads it: a kernel with
    // CONFIG_STRICT_DEVMEM refuses that (arch/x86/mm/init.c
    // devmem_is_allowed()), and the walk would otherwise fail later with a
    // misleading "not RAM". Returns an error message or "".
    std::string probe() const;

    const uint8_t* view(uint64_t addr, uint64_t len) const override;
    bool is_ram(uint64_t addr, uint64_t len) const override;

    // The errno of the last failed mapping (0 if none), for messages.
    int last_errno() const { return last_errno_; }
    uint64_t last_error_addr() const { return last_error_addr_; }

private:
    const Range* ram_range(uint64_t addr, uint64_t len) const;
    int fd_ = -1;
    std::vector<Range> ram_;
    struct Window {
        uint64_t end;
        const uint8_t* data;
    };
    mutable std::map<uint64_t, Window> windows_;  // keyed by start
    // Mappings replaced in windows_ by a longer one at the same start:
    // views into them may still be held, so they live until destruction.
    mutable std::vector<std::pair<const uint8_t*, uint64_t>> retired_;
    mutable int last_errno_ = 0;
    mutable uint64_t last_error_addr_ = 0;
};

}  // namespace kho::tools::exporting
