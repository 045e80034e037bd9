// `khotool probe arm|report`: the RAM-retention probe (loader/ram_probe.h)
// from the booted OS, through efivarfs. `arm` writes KhoProbeRequest so
// that khoboot probes on the next boot (fill free RAM, warm reset, check);
// `report` prints KhoProbeResult, what that check found changed.
#pragma once
#include <string>
#include <vector>

#include "loader/ram_probe.h"

namespace kho::tools {

// argv holds what follows "probe". Exit 0 done, 1 an error (one
// "khotool: error KIND: WHAT" line), 2 usage.
int khotool_probe(int argc, char** argv);

// The KhoProbeResult under `efivars`: *found false (and "") when there is
// none; otherwise "" or what is wrong with it.
std::string read_probe_result(const std::string& efivars, ProbeResult* out, bool* found);

}  // namespace kho::tools
