// install_record.h describes the format.
#include "install_record.h"

#include <cstdio>
#include <sstream>

namespace kho::tools::install {
namespace {

constexpr char kMagic[] = "khoboot-install 1";

bool parse_boot_number(const std::string& s, int* out) {
    if (s.size() != 4) return false;
    unsigned v = 0;
    for (char c : s) {
        int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
        if (d < 0) return false;
        v = v * 16 + unsigned(d);
    }
    *out = int(v);
    return true;
}

}  // namespace

bool safe_relative_path(const std::string& path) {
    if (path.empty() || path.front() == '/' || path.back() == '/') return false;
    for (char c : path) {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                  c == '_' || c == '-' || c == '/';
        if (!ok) return false;
    }
    std::stringstream parts(path);
    std::string part;
    while (std::getline(parts, part, '/'))
        if (part.empty() || part == "." || part == "..") return false;
    return true;
}

std::string format_record(const Record& r) {
    std::string s = std::string("# written by khotool install; khotool remove undoes what it lists\n") + kMagic + "\n";
    for (const std::string& d : r.dirs) s += "dir " + d + "\n";
    for (const std::string& f : r.files) s += "file " + f + "\n";
    for (const std::string& t : r.templates) s += "template " + t + "\n";
    if (r.boot_number >= 0) {
        char b[16];
        std::snprintf(b, sizeof(b), "boot %04X\n", unsigned(r.boot_number));
        s += b;
    }
    return s;
}

std::string parse_record(const std::string& text, Record* out) {
    *out = Record{};
    std::stringstream in(text);
    std::string line;
    bool magic = false;
    for (int n = 1; std::getline(in, line); ++n) {
        if (line.empty() || line[0] == '#') continue;
        const std::string where = "line " + std::to_string(n);
        if (!magic) {
            if (line != kMagic) return where + ": not a khoboot install record (\"" + kMagic + "\" expected)";
            magic = true;
            continue;
        }
        size_t sp = line.find(' ');
        std::string key = line.substr(0, sp), value = sp == std::string::npos ? "" : line.substr(sp + 1);
        if (key == "boot") {
            if (!parse_boot_number(value, &out->boot_number)) return where + ": boot wants 4 hex digits";
            continue;
        }
        std::vector<std::string>* list = key == "dir" ? &out->dirs
                                         : key == "file" ? &out->files
                                         : key == "template" ? &out->templates
                                                             : nullptr;
        if (!list) return where + ": unknown key '" + key + "'";
        if (!safe_relative_path(value)) return where + ": unsafe path '" + value + "'";
        list->push_back(value);
    }
    if (!magic) return "empty record";
    return "";
}

}  // namespace kho::tools::install
