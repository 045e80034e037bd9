// khotool: host CLI to inspect, verify and synthesise KHO states.
#include <cstdio>
#include <cstring>

#include "export.h"
#include "inspect.h"
#include "synth.h"

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
    std::fprintf(out, "usage: khotool COMMAND [ARGS]\n\ncommands:\n");
    for (const Command& c : kCommands) std::fprintf(out, "  %-10s %s\n", c.name, c.help);
    return out == stderr ? 2 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) return usage(stderr);
    if (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "help")) return usage(stdout);
    for (const Command& c : kCommands)
        if (!std::strcmp(argv[1], c.name)) return c.run(argc - 2, argv + 2);
    std::fprintf(stderr, "khotool: unknown command '%s'\n", argv[1]);
    return usage(stderr);
}
