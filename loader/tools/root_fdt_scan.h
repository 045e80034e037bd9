// Where the running kernel's root KHO FDT lies when debugfs does not show
// it at all. Linux 7.2 registers kho/out/fdt only on a boot without
// incoming KHO state: kho_init() (kernel/liveupdate/kexec_handover.c)
// returns before kho_debugfs_blob_add(..., "fdt", ...) when an FDT came in.
// A kernel that was itself handed a state, by kexec or by khoboot, still
// shows each outgoing sub-FDT (kho/out/sub_fdts/NAME, the blob's bytes)
// and its scratch lists. Its root FDT is one preserved page
// (kho_alloc_preserve(PAGE_SIZE)) with a subnode per sub-FDT that gives
// the blob's address ("preserved-data") and size ("blob-size",
// kho_add_subtree()). So the page of RAM that is a KHO root FDT and names
// every blob debugfs shows, each at an address holding exactly those
// bytes, is this kernel's root. The incoming state's root, still in RAM,
// names other blobs: kexec-metadata, which every 7.2 kernel adds, carries
// the kexec count and differs from one kernel to the next.
//
// The scan reads the first bytes of every page of RAM through /dev/mem:
// seconds per GiB under emulation, linear in RAM. Exactly one page must
// match; none or several is an error, never a guess.
#pragma once
#include <stdint.h>

#include <string>
#include <vector>

#include "loader/phys_mem.h"
#include "loader/range_set.h"
#include "loader/status.h"

namespace kho::tools::exporting {

// One outgoing sub-FDT as debugfs shows it: kho/out/sub_fdts/NAME.
struct SubtreeBlob {
    std::string name;
    std::string bytes;
};

struct RootScan {
    uint64_t fdt_addr = 0;
    uint64_t fdt_pages = 0;      // pages of RAM that begin with the FDT magic
};

// Scans `ram` (page-aligned ranges) for the root FDT naming `subtrees`
// (at least one). NotFound if no page does, BadFdt if several do.
Status scan_root_fdt(const PhysMem& mem, const std::vector<Range>& ram,
                     const std::vector<SubtreeBlob>& subtrees, RootScan* out);

}  // namespace kho::tools::exporting
