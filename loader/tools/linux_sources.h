// What a running Linux tells user space that `khotool export` needs, as
// text: debugfs kho/out (the scratch lists) and /proc/iomem (where RAM is,
// so that /dev/mem is read only there). Parsers are pure for host tests
// (loader/tests/test_export.cpp); read_small_file() does the reading.
#pragma once
#include <stddef.h>

#include <string>
#include <vector>

#include "abi/kho_scratch.h"
#include "loader/range_set.h"
#include "loader/status.h"
#include "root_fdt_scan.h"

namespace kho::tools::exporting {

// debugfs kho/out/scratch_phys and scratch_len: one "0x%llx" line per
// scratch region each, same order (kernel/liveupdate/
// kexec_handover_debugfs.c scratch_phys_show()/scratch_len_show()).
Status parse_scratch_lists(const std::string& phys, const std::string& len,
                           std::vector<abi::KhoScratch>* out);

// Top-level "System RAM" lines of /proc/iomem ("start-end : System RAM",
// end inclusive), page-rounded inward, sorted and coalesced.
Status parse_iomem_ram(const std::string& text, std::vector<Range>* out);

// Reads a whole small file (debugfs blobs and pseudo files report no size,
// so read until EOF); stops after `limit` bytes plus one buffer. False with
// errno set on failure.
bool read_small_file(const std::string& path, std::string* out, size_t limit);

// Every blob of debugfs kho/out/sub_fdts (`dir`), by name. "" or an error
// message naming the file.
std::string read_sub_fdts(const std::string& dir, std::vector<SubtreeBlob>* out);

}  // namespace kho::tools::exporting
