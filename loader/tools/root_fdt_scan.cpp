// The root FDT of a kernel that was itself booted with KHO state, found by
// the sub-FDTs it names (root_fdt_scan.h).
#include "root_fdt_scan.h"

#include <string.h>

#include <memory>

#include "loader/kho_fdt_reader.h"

namespace kho::tools::exporting {

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint8_t kFdtMagic[4] = {0xd0, 0x0d, 0xfe, 0xed};  // big-endian FDT_MAGIC

// True if `state` names every blob, each at an address whose bytes are the
// blob's (and with the blob's size).
bool names_every_blob(const PhysMem& mem, const KhoState& state, const std::vector<SubtreeBlob>& subtrees) {
    for (const SubtreeBlob& want : subtrees) {
        const KhoSubnode* found = nullptr;
        for (size_t i = 0; i < state.subnode_count && !found; i++)
            if (want.name == state.subnodes[i].name) found = &state.subnodes[i];
        if (!found || !found->has_blob_size || found->blob_size != want.bytes.size()) return false;
        const uint8_t* at = mem.view(found->blob_phys, want.bytes.size());
        if (!at || memcmp(at, want.bytes.data(), want.bytes.size()) != 0) return false;
    }
    return true;
}

}  // namespace

Status scan_root_fdt(const PhysMem& mem, const std::vector<Range>& ram,
                     const std::vector<SubtreeBlob>& subtrees, RootScan* out) {
    *out = RootScan();
    if (subtrees.empty())
        return Status::error(Err::BadProperty, "no sub-FDT in debugfs kho/out/sub_fdts to find the root FDT by");
    auto state = std::make_unique<KhoState>();
    uint64_t matches = 0;
    for (const Range& r : ram) {
        for (uint64_t page = r.start; page + kPage <= r.end; page += kPage) {
            const uint8_t* head = mem.view(page, sizeof(kFdtMagic));
            if (!head || memcmp(head, kFdtMagic, sizeof(kFdtMagic)) != 0) continue;
            out->fdt_pages++;
            if (!read_kho_fdt(mem, page, state.get()) || !names_every_blob(mem, *state, subtrees)) continue;
            if (matches++ == 0) out->fdt_addr = page;
        }
    }
    if (matches == 0)
        return Status::error(Err::BadFdt, "no page of RAM is a root KHO FDT naming the %zu sub-FDT(s) of "
                             "debugfs kho/out/sub_fdts (%llu pages begin with the FDT magic)",
                             subtrees.size(), (unsigned long long)out->fdt_pages);
    if (matches > 1)
        return Status::error(Err::BadFdt, "%llu pages of RAM are root KHO FDTs naming the sub-FDTs of debugfs "
                             "kho/out/sub_fdts (the first at 0x%llx): which one is this kernel's is unknown",
                             (unsigned long long)matches, (unsigned long long)out->fdt_addr);
    return Status::ok();
}

}  // namespace kho::tools::exporting
