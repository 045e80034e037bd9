// KhoProbeResult read through efivarfs (probe.h), shared by `khotool probe
// report` and `khotool export`'s warning.
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "abi/ram_probe.h"
#include "efivarfs.h"
#include "linux_sources.h"
#include "probe.h"

namespace kho::tools {

namespace probe = abi::probe;

std::string read_probe_result(const std::string& efivars, ProbeResult* out, bool* found) {
    *found = false;
    std::string err = exporting::check_efivarfs(efivars);
    if (!err.empty()) return err;
    const std::string path = exporting::variable_path(efivars, probe::kResultVariable);
    std::string raw;
    if (!exporting::read_small_file(path, &raw, probe::kMaxResultBytes + 4 + 1)) {
        if (errno == ENOENT) return "";
        return path + ": " + std::strerror(errno);
    }
    *found = true;
    if (raw.size() < 4) return path + ": not even the 4 attribute bytes";
    // The parser wants 8-byte alignment: copy past efivarfs's attribute word.
    std::vector<uint64_t> aligned((raw.size() - 4) / 8 + 1);
    std::memcpy(aligned.data(), raw.data() + 4, raw.size() - 4);
    Status s = parse_probe_result(aligned.data(), raw.size() - 4, out);
    return s ? "" : s.message();
}

}  // namespace kho::tools
