// The kernel command line the loader hands over: the entry's options plus
// what a KHO boot needs (docs/kho-abi.md section 8.3): `kho=on` unless
// the consumer is told otherwise, and one `reserve_mem=` per memblock
// reserve_mem region the producer preserved (docs/kho-abi.md 9.1), since the
// consumer only re-adopts a region its own command line names.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "kho_fdt_reader.h"
#include "phys_mem.h"
#include "status.h"

namespace kho {

// A command line in caller storage. Parameters are blank-separated words;
// double quotes group blanks into a word (Linux lib/cmdline.c next_arg()).
class CommandLine {
public:
    CommandLine(char* buffer, size_t capacity);

    Status set(const char* text);
    // Appends one parameter, preceded by a blank when needed.
    Status append(const char* param);
    // True if some word is `name` or starts with `name=` (outside quotes;
    // '-' and '_' are equal, as the kernel's parameq()).
    bool has(const char* name) const;
    // The value of the first `name=value` word (quotes stripped) in `out`;
    // false when absent.
    bool value_of(const char* name, char* out, size_t out_size) const;

    const char* c_str() const { return buf_; }
    size_t length() const { return len_; }

private:
    char* buf_;
    size_t cap_;
    size_t len_ = 0;
};

struct ReserveMemRegion {
    static constexpr size_t kNameSize = 16;  // RESERVE_MEM_NAME_SIZE (mm/memblock.c)
    char name[kNameSize];
    uint64_t start;
    uint64_t size;
};

// Reads the "memblock" sub-FDT (compatible "memblock-v1") of a KHO state
// and lists its "reserve-mem-v1" children. A state without the sub-node
// yields 0 regions. `scratch` (>= the blob size, at most `scratch_size`)
// holds a private copy of the sub-FDT while it is checked.
Status read_reserve_mem_regions(const PhysMem& mem, const KhoState& state, uint8_t* scratch,
                                size_t scratch_size, ReserveMemRegion* out, size_t capacity,
                                size_t* count);

// `reserve_mem=<size>:<align>:<name>` as the kernel's reserve_mem() parses
// it, with an alignment the recorded start satisfies (reserve_mem_kho_revive()
// refuses a start not aligned to it).
Status format_reserve_mem(const ReserveMemRegion& region, char* out, size_t out_size);

struct KhoCmdlineEdits {
    bool added_kho_on = false;
    bool kho_disabled = false;  // the options say kho=off/0/n: the state will be ignored
    size_t added_reserve_mem = 0;
};

// Adds `kho=on` if no `kho=` word is present and, for each region whose
// name has no `reserve_mem=...:name` yet, the matching reserve_mem=.
Status add_kho_parameters(CommandLine& cmdline, const ReserveMemRegion* regions, size_t count,
                          KhoCmdlineEdits* edits);

}  // namespace kho
