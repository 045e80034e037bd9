#include "boot_options.h"

#include <dirent.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "linux_sources.h"

namespace kho::tools::boot_options {
namespace {

constexpr uint8_t kMediaDevicePath = 4, kMediaFilePath = 4, kEndDevicePath = 0x7f;

std::string ucs2_to_ascii(const uint8_t* p, size_t bytes) {
    std::string s;
    for (size_t i = 0; i + 1 < bytes; i += 2) {
        uint16_t c = uint16_t(p[i] | p[i + 1] << 8);
        if (!c) break;
        s += c < 0x80 ? char(c) : '?';
    }
    return s;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return s;
}

// A variable file's data, without efivarfs' 4 attribute bytes.
bool read_variable(const std::string& path, std::vector<uint8_t>* out) {
    std::string raw;
    if (!exporting::read_small_file(path, &raw, 1 << 16) || raw.size() < 4) return false;
    out->assign(raw.begin() + 4, raw.end());
    return true;
}

}  // namespace

std::string option_name(uint16_t number) {
    char b[16];
    std::snprintf(b, sizeof(b), "Boot%04X", number);
    return b;
}

std::string parse_load_option(const std::vector<uint8_t>& b, LoadOption* out) {
    *out = LoadOption{};
    if (b.size() < 6) return "shorter than an EFI_LOAD_OPTION header";
    size_t path_len = size_t(b[4] | b[5] << 8);
    size_t i = 6;
    while (i + 1 < b.size() && (b[i] | b[i + 1])) i += 2;
    if (i + 1 >= b.size()) return "description is not terminated";
    out->description = ucs2_to_ascii(b.data() + 6, i - 6);
    size_t path = i + 2;
    if (path + path_len > b.size()) return "file path list runs past the variable";
    for (size_t n = path; n + 4 <= path + path_len;) {
        uint8_t type = b[n], sub = b[n + 1];
        size_t len = size_t(b[n + 2] | b[n + 3] << 8);
        if (len < 4 || n + len > path + path_len) return "malformed device path node";
        if (type == kEndDevicePath) break;
        if (type == kMediaDevicePath && sub == kMediaFilePath) out->file_path += ucs2_to_ascii(b.data() + n + 4, len - 4);
        n += len;
    }
    return "";
}

std::vector<LoadOption> read_boot_options(const std::string& efivars) {
    std::vector<LoadOption> out;
    DIR* d = opendir(efivars.c_str());
    if (!d) return out;
    const std::string suffix = std::string("-") + kGlobalGuid;
    while (dirent* e = readdir(d)) {
        std::string name = e->d_name;
        unsigned number = 0;
        char tail[64];
        if (name.size() != 8 + suffix.size() || name.compare(8, std::string::npos, suffix) ||
            std::sscanf(name.c_str(), "Boot%4X%63s", &number, tail) != 2 || !std::isxdigit(uint8_t(name[4])))
            continue;
        std::vector<uint8_t> data;
        LoadOption o;
        if (!read_variable(efivars + "/" + name, &data) || !parse_load_option(data, &o).empty()) continue;
        o.number = uint16_t(number);
        out.push_back(o);
    }
    closedir(d);
    std::sort(out.begin(), out.end(), [](const LoadOption& a, const LoadOption& b) { return a.number < b.number; });
    return out;
}

std::optional<uint16_t> read_boot_current(const std::string& efivars) {
    std::vector<uint8_t> v;
    if (!read_variable(efivars + "/BootCurrent-" + kGlobalGuid, &v) || v.size() != 2) return std::nullopt;
    return uint16_t(v[0] | v[1] << 8);
}

std::string read_loader_string(const std::string& efivars, const char* name) {
    std::vector<uint8_t> v;
    if (!read_variable(efivars + "/" + name + "-" + kLoaderGuid, &v)) return "";
    return ucs2_to_ascii(v.data(), v.size());
}

std::optional<KhobootEntry> find_khoboot_entry(const std::string& efivars,
                                               std::optional<uint16_t> requested, std::string* error) {
    std::vector<LoadOption> options = read_boot_options(efivars);
    if (requested) {
        for (const LoadOption& o : options)
            if (o.number == *requested) return KhobootEntry{o.number, "--entry"};
        *error = option_name(*requested) + " does not exist";
        return std::nullopt;
    }
    for (const LoadOption& o : options)
        if (lower(o.file_path) == lower(kInstalledPath) || lower(o.description).find("khoboot") != std::string::npos)
            return KhobootEntry{o.number, o.file_path.empty() ? "description \"" + o.description + "\"" : o.file_path};
    std::optional<uint16_t> current = read_boot_current(efivars);
    if (current && read_loader_string(efivars, "LoaderInfo").rfind("khoboot", 0) == 0)
        return KhobootEntry{*current, "BootCurrent (khoboot booted this kernel)"};
    *error = "no khoboot boot option: no Boot#### names " + std::string(kInstalledPath) +
             " or khoboot, and this kernel was not booted by khoboot (khotool install creates one; or --entry XXXX)";
    return std::nullopt;
}

}  // namespace kho::tools::boot_options
