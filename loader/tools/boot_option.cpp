// boot_option.h says why efibootmgr.
#include "boot_option.h"

#include <cstdio>
#include <sstream>

#include "run_program.h"

namespace kho::tools::install {
namespace {

int hex4(const std::string& s, size_t at) {
    if (s.size() < at + 4) return -1;
    int v = 0;
    for (size_t i = at; i < at + 4; ++i) {
        char c = s[i];
        int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

}  // namespace

std::string boot_name(int number) {
    char b[16];
    std::snprintf(b, sizeof(b), "Boot%04X", unsigned(number) & 0xffff);
    return b;
}

std::vector<BootOption> parse_boot_options(const std::string& listing) {
    std::vector<BootOption> out;
    std::stringstream in(listing);
    std::string line;
    while (std::getline(in, line)) {
        // "BootOrder:", "BootCurrent:" fail hex4; a real option is Boot + 4 hex digits.
        if (line.compare(0, 4, "Boot") != 0) continue;
        int n = hex4(line, 4);
        if (n < 0 || line.size() < 10) continue;
        BootOption o;
        o.number = n;
        o.active = line[8] == '*';
        std::string label = line.substr(9);
        size_t start = label.find_first_not_of(' ');
        label = start == std::string::npos ? "" : label.substr(start);
        o.label = label.substr(0, label.find('\t'));
        while (!o.label.empty() && o.label.back() == ' ') o.label.pop_back();
        out.push_back(o);
    }
    return out;
}

std::string list_boot_options(std::vector<BootOption>* out) {
    ProgramResult r = run_program({"efibootmgr"});
    if (!r.error.empty()) return r.error + " (install efibootmgr, or give --no-nvram)";
    if (r.exit_code != 0) return "efibootmgr exited with " + std::to_string(r.exit_code);
    *out = parse_boot_options(r.out);
    return "";
}

std::vector<std::string> create_command(const EspDevice& dev, const std::string& label, const std::string& loader,
                                        bool first_in_boot_order) {
    return {"efibootmgr", first_in_boot_order ? "--create" : "--create-only", "--disk", dev.disk, "--part",
            std::to_string(dev.partition), "--label", label, "--loader", loader};
}

std::vector<std::string> delete_command(int number) {
    char hex[8];
    std::snprintf(hex, sizeof(hex), "%04X", unsigned(number) & 0xffff);
    return {"efibootmgr", "--bootnum", hex, "--delete-bootnum"};
}

std::string run_efibootmgr(const std::vector<std::string>& argv) {
    ProgramResult r = run_program(argv);
    if (!r.error.empty()) return r.error;
    if (r.exit_code != 0) return command_line(argv) + " exited with " + std::to_string(r.exit_code);
    return "";
}

}  // namespace kho::tools::install
