// khotool: host CLI to inspect, verify and synthesise KHO states.
#include <cstdio>
#include <cstring>

#include "export.h"
#include "inspect.h"
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
};

int usage(FILE* out) {
    std::fprintf(out, "usage: khotool COMMAND [ARGS]\n"
                      "       khotool -h|--help|--version\n\ncommands:\n");
    for (const Command& c : kCommands) std::fprintf(out, "  %-10s %s\n", c.name, c.help);
    std::fprintf(out, "\n'khotool COMMAND --help' describes each.\n");
    return out == stderr ? 2 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) return usage(stderr);
    const char* a = argv[1];
    if (!std::strcmp(a, "-h") || !std::strcmp(a, "--help") || !std::strcmp(a, "help"))
        return usage(stdout);
    if (!std::strcmp(a, "--version") || !std::strcmp(a, "-V")) {
        std::printf("khotool %s\n", KHOBOOT_VERSION);
        return 0;
    }
    for (const Command& c : kCommands)
        if (!std::strcmp(a, c.name)) return c.run(argc - 2, argv + 2);
    std::fprintf(stderr, "khotool: unknown %s '%s'\n", a[0] == '-' ? "option" : "command", a);
    return usage(stderr);
}
