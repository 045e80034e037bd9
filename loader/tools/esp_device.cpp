// esp_device.h says why; the lookups are findmnt(8) and sysfs.
#include "esp_device.h"

#include <climits>
#include <cstdlib>
#include <fstream>
#include <vector>

#include "run_program.h"

namespace kho::tools::install {
namespace {

std::string real_path(const std::string& p) {
    char buf[PATH_MAX];
    return realpath(p.c_str(), buf) ? std::string(buf) : std::string();
}

std::string base_name(const std::string& p) {
    size_t s = p.rfind('/');
    return s == std::string::npos ? p : p.substr(s + 1);
}

std::string parent_dir(const std::string& p) {
    size_t s = p.rfind('/');
    return s == std::string::npos || s == 0 ? "/" : p.substr(0, s);
}

// findmnt's TARGET, SOURCE and FSTYPE for the filesystem holding `dir`
// (-P: KEY="value" pairs, safe with blanks in paths).
std::string findmnt(const std::string& dir, std::string* target, std::string* source, std::string* fstype) {
    ProgramResult r = run_program({"findmnt", "-n", "-P", "-o", "TARGET,SOURCE,FSTYPE", "--target", dir});
    if (!r.error.empty()) return r.error;
    if (r.exit_code != 0) return "findmnt found no filesystem for " + dir;
    auto field = [&r](const std::string& key) {
        size_t at = r.out.find(key + "=\"");
        if (at == std::string::npos) return std::string();
        at += key.size() + 2;
        return r.out.substr(at, r.out.find('"', at) - at);
    };
    *target = field("TARGET"), *source = field("SOURCE"), *fstype = field("FSTYPE");
    return source->empty() ? "findmnt: no SOURCE for " + dir : "";
}

}  // namespace

std::string find_esp_device(const std::string& esp_dir, const std::string& sysfs, EspDevice* out) {
    std::string target, source, fstype;
    std::string err = findmnt(esp_dir, &target, &source, &fstype);
    if (!err.empty()) return err;
    if (real_path(esp_dir) != real_path(target))
        return esp_dir + " is not a mount point (the ESP's filesystem is mounted at " + target +
               "); give the ESP's mount point";
    if (fstype != "vfat")
        return esp_dir + " is " + fstype + ", not FAT: an ESP is a FAT file system (UEFI 2.10 section 13.3)";
    const std::string node = sysfs + "/class/block/" + base_name(source);
    std::ifstream part(node + "/partition");
    if (!(part >> out->partition) || out->partition == 0)
        return source + " is not a disk partition (no " + node + "/partition)";
    std::string dev = real_path(node);
    if (dev.empty()) return "cannot resolve " + node;
    out->disk = "/dev/" + base_name(parent_dir(dev));
    return "";
}

}  // namespace kho::tools::install
