// `khotool export`: runs inside a KHO-enabled Linux (its initramfs) and
// hands the kernel's live outgoing KHO state to the firmware path. It reads
// debugfs kho/out (the root FDT bytes, scratch_phys, scratch_len), finds
// the root FDT's physical address by walking the preserved-memory map
// through /dev/mem to the order-0 page holding exactly those bytes, checks
// the whole state with the loader's own core, and writes the handover
// descriptor (and an integrity manifest) into UEFI variables through
// efivarfs. Any bad or missing piece is one error line and no descriptor.
//
// The pure parts below are separate functions so host tests can run them
// on RAM images (loader/tests/test_export.cpp).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "abi/kho_scratch.h"
#include "loader/phys_mem.h"
#include "loader/range_set.h"
#include "loader/status.h"

namespace kho::tools {

int khotool_export(int argc, char** argv);

namespace exporting {

// UEFI variables written next to each other under the descriptor's vendor
// GUID (abi/handover_descriptor.h). The manifest has no safe place in RAM
// (user space cannot keep a page away from the next boot's firmware and
// loader), so its bytes travel in a variable of their own; see
// scripts/linux/README.md "Handover through the firmware".
inline constexpr const char kManifestVariable[] = "KhoManifest";
// EFI_VARIABLE_NON_VOLATILE | BOOTSERVICE_ACCESS | RUNTIME_ACCESS.
inline constexpr uint32_t kVariableAttributes = 0x7;
// Largest manifest written whole: OVMF's 4 MiB variable store takes
// variables up to 0x8400 bytes (PcdMaxVariableSize of its FD_SIZE_4MB
// build); stay well below so other variables keep room. A bigger manifest
// keeps its metadata entries only (the part the loader checks first).
inline constexpr size_t kManifestBudget = 16 * 1024;

// debugfs kho/out/scratch_phys and scratch_len: one "0x%llx" line per
// scratch region each, same order (kernel/liveupdate/
// kexec_handover_debugfs.c scratch_phys_show()/scratch_len_show()).
Status parse_scratch_lists(const std::string& phys, const std::string& len,
                           std::vector<abi::KhoScratch>* out);

// Top-level "System RAM" lines of /proc/iomem ("start-end : System RAM",
// end inclusive), page-rounded inward, sorted and coalesced.
Status parse_iomem_ram(const std::string& text, std::vector<Range>* out);

// What a (possibly truncated) copy of the root FDT says about its own root
// node without the strings block: the values of 8-byte properties and of
// string properties that lie wholly inside the copy. In 7.2 debugfs
// kho/out/fdt is such a prefix: its size is fixed when kho_init() creates
// the file, and later kho_add_subtree() calls grow the FDT past it, moving
// the strings block out of reach (kernel/liveupdate/kexec_handover.c).
struct RootPrefix {
    uint32_t totalsize = 0;              // the live FDT's size, from the header
    std::vector<uint64_t> u64_values;    // candidates for preserved-memory-map
    std::vector<std::string> strings;    // candidates for compatible
};
Status parse_root_prefix(const uint8_t* prefix, size_t len, RootPrefix* out);

struct FdtLocation {
    uint64_t fdt_addr = 0;
    uint64_t map_root = 0;
    uint64_t order0_blocks = 0;  // order-0 blocks compared with the prefix
};

// Finds the root FDT page: for every candidate map root in the prefix,
// walks the map and compares each preserved order-0 page with the prefix.
// Exactly one page must match, and the full FDT read back from it must
// name the map root that led to it.
Status locate_root_fdt(const PhysMem& mem, const uint8_t* prefix, size_t len, FdtLocation* out);

enum class ManifestLevel : uint8_t { None, Metadata, Full };
const char* manifest_level_name(ManifestLevel level);

struct ExportPlan {
    std::vector<uint8_t> descriptor;  // the KhoHandover variable's data
    std::vector<uint8_t> manifest;    // the KhoManifest variable's data, may be empty
    ManifestLevel manifest_level = ManifestLevel::None;
    char compatible[32] = {};
    uint64_t fdt_addr = 0;
    uint32_t fdt_crc32 = 0;
    uint64_t map_root = 0;
    uint64_t blocks = 0;           // preserved blocks as the map encodes them
    uint64_t preserved_bytes = 0;
    uint64_t metadata_pages = 0;
    size_t subnodes = 0;
    size_t scratch_count = 0;
    uint32_t metadata_entries = 0;
    uint32_t data_entries = 0;
    std::vector<Range> protect;    // everything the loader must keep
};

// Validates the state at fdt_addr with the loader's core (read_kho_fdt,
// the map decoder, collect_protected) plus the rules a firmware handover
// adds: the FDT page and every sub-blob are preserved memory, nothing
// preserved lies inside scratch; then builds the descriptor (kFlagFdtCrc)
// and, at `level`, the manifest. `budget` caps the manifest's bytes.
Status plan_export(const PhysMem& mem, uint64_t fdt_addr,
                   const std::vector<abi::KhoScratch>& scratch, ManifestLevel level, size_t budget,
                   ExportPlan* out);

// PhysMem over a /dev/mem-like file: RAM ranges come from /proc/iomem and
// are mapped on demand in 2 MiB windows that stay mapped for the object's
// life, so views stay valid as the core expects (decoders hold a parent
// node's view while reading its children) and nothing is copied.
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

}  // namespace exporting
}  // namespace kho::tools
