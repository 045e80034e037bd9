// The handoff image's command line (handoff/main.cpp), which `khotool
// reboot` passes to kexec_file_load:
//   khoboot.handoff.manifest=full|metadata|none   what the integrity
//       manifest covers (default full: every preserved byte, so khoboot's
//       kho-verify=full can check it; metadata: the map pages, the root FDT
//       and the sub-blobs only)
// Other words are ignored; a bad value is an error, not a default.
#pragma once
#include "handover_plan.h"
#include "status.h"

namespace handoff {

struct Options {
    kho::ManifestLevel manifest = kho::ManifestLevel::Full;
};

kho::Status parse_options(const char* cmdline, Options* out);

}  // namespace handoff
