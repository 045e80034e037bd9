// khotool: host CLI to inspect, verify and synthesise KHO states.
#include <cstdio>
#include <cstring>
#include <string>

#include "cli.h"
#include "export.h"
#include "inspect.h"
#include "reboot.h"
#include "install.h"
#include "probe.h"
#include "status.h"
#include "synth.h"

#ifndef KHOBOOT_VERSION
#define KHOBOOT_VERSION "dev"
#endif

namespace {

struct Command {
    const char* name;
    int (*run)(int argc, char** argv);
    const char* help;
};

constexpr Command kCommands[] = {
    {"inspect", kho::tools::khotool_inspect, "show a KHO state held in RAM dumps"},
    {"export", kho::tools::khotool_export, "hand this kernel's live KHO state to the firmware path"},
    {"synth", ::khotool_synth, "synthesise a KHO state as RAM blobs + descriptor"},
    {"status", kho::tools::khotool_status, "what the last boot through khoboot did (KhoBootStatus)"},
    {"reboot", kho::tools::khotool_reboot, "carry this kernel's KHO state and LUO sessions into khoboot"},
    {"install", kho::tools::khotool_install, "put khoboot on an ESP and register a Boot#### option"},
    {"remove", kho::tools::khotool_remove, "undo 'khotool install'"},
    {"probe", kho::tools::khotool_probe, "RAM-retention probe: arm it, report what the firmware rewrote"},
};

std::string usage_text() {
    std::string s = "usage: khotool COMMAND [ARGS]\n"
                    "       khotool -h|--help|--version\n"
                    "       khotool help [COMMAND]\n\ncommands:\n";
    char line[160];
    for (const Command& c : kCommands) {
        std::snprintf(line, sizeof(line), "  %-10s %s\n", c.name, c.help);
        s += line;
    }
    return s + "\n'khotool COMMAND --help' describes each.\n";
}

const Command* find_command(const char* name) {
    for (const Command& c : kCommands)
        if (!std::strcmp(name, c.name)) return &c;
    return nullptr;
}

// "khotool help [COMMAND]": the top-level text, or the command's own.
int help(int argc, char** argv, const std::string& usage) {
    if (argc == 0) {
        std::fputs(usage.c_str(), stdout);
        return 0;
    }
    const Command* c = find_command(argv[0]);
    if (!c) return kho::tools::cli::usage_error("", std::string("unknown command '") + argv[0] + "'");
    if (argc > 1) return kho::tools::cli::usage_error("", std::string("unexpected argument '") + argv[1] + "'");
    char flag[] = "--help";
    char* args[] = {flag, nullptr};
    return c->run(1, args);
}

enum LongOnly { kOptVersion = 0x100 };

}  // namespace

int main(int argc, char** argv) {
    namespace cli = kho::tools::cli;
    static const option kLong[] = {
        {"version", no_argument, nullptr, kOptVersion},
        {nullptr, 0, nullptr, 0},
    };
    const std::string usage = usage_text();
    bool version = false;
    int first = 0;
    // Options before the command are khotool's own; the command's
    // arguments are its own.
    int rc = cli::parse({"", usage.c_str(), kLong, &first}, argc - 1, argv + 1,
                        [&version](int, const std::string&) {
                            version = true;
                            return std::string();
                        });
    if (rc != cli::kRun) return rc;
    if (version) {
        std::printf("khotool %s\n", KHOBOOT_VERSION);
        return std::fflush(stdout) == 0 ? 0 : 1;
    }
    char** rest = argv + 1 + first;
    const int left = argc - 1 - first;
    if (left == 0) return cli::usage_error("", "no command given");
    if (!std::strcmp(rest[0], "help")) return help(left - 1, rest + 1, usage);
    const Command* c = find_command(rest[0]);
    if (!c) return cli::usage_error("", std::string("unknown command '") + rest[0] + "'");
    return c->run(left - 1, rest + 1);
}
