#include "next_kernel.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "linux_sources.h"
#include "loader/boot_entry.h"

namespace kho::tools::reboot {
namespace {

bool is_dir(const std::string& p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

class NoWarnings : public ConfigWarnings {
    void warn(const char*, unsigned, const char*) override {}
};

std::vector<std::string> entry_ids(const std::string& dir) {
    std::vector<std::string> ids;
    if (DIR* d = opendir(dir.c_str())) {
        while (dirent* e = readdir(d)) {
            std::string n = e->d_name;
            if (n.size() > 5 && n.compare(n.size() - 5, 5, ".conf") == 0) ids.push_back(n.substr(0, n.size() - 5));
        }
        closedir(d);
    }
    std::sort(ids.begin(), ids.end());  // khoboot lists them by name too (efi/esp_files.cpp)
    return ids;
}

}  // namespace

std::string find_next_kernel(const std::string& esp, const std::string& requested, NextKernel* out) {
    out->esp = esp;
    if (esp.empty()) {
        for (const char* c : {"/efi", "/boot/efi", "/boot"})
            if (is_dir(std::string(c) + "/loader/entries")) { out->esp = c; break; }
        if (out->esp.empty()) return "no ESP with loader/entries at /efi, /boot/efi or /boot (mount it, or --esp DIR, or --kernel FILE)";
    }
    std::vector<std::string> ids = entry_ids(out->esp + "/loader/entries");
    if (ids.empty()) return out->esp + "/loader/entries holds no *.conf boot entry";
    LoaderConf conf{};
    NoWarnings quiet;
    std::string text;
    if (exporting::read_small_file(out->esp + "/loader/loader.conf", &text, 1 << 16)) {
        Status s = parse_loader_conf("loader.conf", text.data(), text.size(), &conf, &quiet);
        if (!s) return out->esp + "/loader/loader.conf: " + s.message();
    }
    std::vector<const char*> ptrs;
    for (const std::string& id : ids) ptrs.push_back(id.c_str());
    size_t index = 0;
    Status s = select_entry(conf, ptrs.data(), ptrs.size(), requested.c_str(), &index);
    if (!s) return std::string("boot entry: ") + s.message();
    out->entry_id = ids[index];
    std::string path = out->esp + "/loader/entries/" + out->entry_id + ".conf";
    if (!exporting::read_small_file(path, &text, 1 << 16)) return path + ": cannot be read";
    auto entry = std::make_unique<BootEntry>();
    init_boot_entry(entry.get(), out->entry_id.c_str());
    s = parse_boot_entry(path.c_str(), text.data(), text.size(), entry.get(), &quiet);
    if (!s) return path + ": " + s.message();
    out->kernel = out->esp + "/" + entry->linux_path;
    return "";
}

}  // namespace kho::tools::reboot
