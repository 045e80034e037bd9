#include "next_kernel.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "linux_sources.h"
#include "loader/boot_entry.h"
#include "loader/entry_list.h"

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
    return ids;
}

// The entries parsed, in khoboot's menu order (the BLS order of
// loader/entry_list.h bls_sort()), so "the default" means what it means
// to khoboot.
std::string read_entries(const std::string& dir, std::vector<std::unique_ptr<BootEntry>>* out) {
    NoWarnings quiet;
    for (const std::string& id : entry_ids(dir)) {
        std::string path = dir + "/" + id + ".conf", text;
        if (!exporting::read_small_file(path, &text, 1 << 16)) return path + ": cannot be read";
        auto e = std::make_unique<BootEntry>();
        init_boot_entry(e.get(), id.c_str());
        Status s = parse_boot_entry(path.c_str(), text.data(), text.size(), e.get(), &quiet);
        if (!s) return path + ": " + s.message();
        out->push_back(std::move(e));
    }
    std::vector<MenuEntry> menu(out->size());
    for (size_t i = 0; i < out->size(); ++i) {
        const BootEntry& e = *(*out)[i];
        auto opt = [](const char* v) { return v[0] ? v : nullptr; };
        menu[i] = MenuEntry{e.id, opt(e.title), opt(e.version), opt(e.machine_id), opt(e.sort_key)};
    }
    bls_sort(menu.data(), menu.size());
    std::vector<std::unique_ptr<BootEntry>> sorted;
    for (const MenuEntry& m : menu)
        for (auto& e : *out)
            if (e && e->id == m.id) sorted.push_back(std::move(e));
    *out = std::move(sorted);
    return "";
}

}  // namespace

std::string find_next_kernel(const std::string& esp, const std::string& requested, NextKernel* out) {
    out->esp = esp;
    if (esp.empty()) {
        for (const char* c : {"/efi", "/boot/efi", "/boot"})
            if (is_dir(std::string(c) + "/loader/entries")) { out->esp = c; break; }
        if (out->esp.empty()) return "no ESP with loader/entries at /efi, /boot/efi or /boot (mount it, or --esp DIR, or --kernel FILE)";
    }
    std::vector<std::unique_ptr<BootEntry>> entries;
    std::string err = read_entries(out->esp + "/loader/entries", &entries);
    if (!err.empty()) return err;
    if (entries.empty()) return out->esp + "/loader/entries holds no *.conf boot entry";
    LoaderConf conf{};
    NoWarnings quiet;
    std::string text;
    if (exporting::read_small_file(out->esp + "/loader/loader.conf", &text, 1 << 16)) {
        Status s = parse_loader_conf("loader.conf", text.data(), text.size(), &conf, &quiet);
        if (!s) return out->esp + "/loader/loader.conf: " + s.message();
    }
    std::vector<const char*> ids;
    for (const auto& e : entries) ids.push_back(e->id);
    size_t index = 0;
    Status s = select_entry(conf, ids.data(), ids.size(), requested.c_str(), &index);
    if (!s) return std::string("boot entry: ") + s.message();
    const BootEntry* entry = entries[index].get();
    out->entry_id = entry->id;
    const char* rel = entry->linux_path;
    while (*rel == '/') ++rel;  // ESP-relative, usually written "/vmlinuz-..."
    out->kernel = out->esp + "/" + rel;
    return "";
}

}  // namespace kho::tools::reboot
