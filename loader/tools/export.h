// `khotool export`: runs inside a KHO-enabled Linux (its initramfs) and
// hands the kernel's live outgoing KHO state to the firmware path. It reads
// debugfs kho/out (the root FDT bytes, scratch_phys, scratch_len), finds
// the root FDT's physical address by walking the preserved-memory map
// through /dev/mem to the order-0 page holding exactly those bytes, checks
// the whole state with the loader's own core, and writes the handover
// descriptor (and an integrity manifest) into UEFI variables through
// efivarfs. Any bad or missing piece is one error line and no descriptor.
//
// One job per file; this header gathers them for the command and its host
// tests (loader/tests/test_export.cpp):
//   linux_sources.h    debugfs scratch lists, /proc/iomem, small-file reads
//   root_fdt_search.h  the root FDT's address from its truncated copy
//   export_plan.h      the core's checks, descriptor and manifest bytes
//   dev_mem.h          PhysMem over /dev/mem
//   efivarfs.h         the variables as files
#pragma once

#include "dev_mem.h"
#include "efivarfs.h"
#include "export_plan.h"
#include "linux_sources.h"
#include "root_fdt_scan.h"
#include "root_fdt_search.h"

namespace kho::tools {

// argv holds what follows "export". Exit 0 written (or --dry-run), 1
// refused (one "khotool: error KIND: WHAT" line), 2 usage.
int khotool_export(int argc, char** argv);

}  // namespace kho::tools
