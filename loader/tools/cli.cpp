#include "cli.h"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "json_writer.h"

namespace kho::tools::cli {
namespace {

constexpr int kHelp = 'h';

// The caller's table with --help appended (getopt_long wants one array).
std::vector<option> with_help(const option* options) {
    std::vector<option> out;
    for (const option* o = options; o && o->name; ++o) out.push_back(*o);
    out.push_back(option{"help", no_argument, nullptr, kHelp});
    out.push_back(option{nullptr, 0, nullptr, 0});
    return out;
}

}  // namespace

int usage_error(const char* command, const std::string& what) {
    const std::string cmd = command && *command ? std::string("khotool ") + command : "khotool";
    // printable(): a hostile argument must not break the one-line promise.
    std::fprintf(stderr, "khotool: error usage: %s (%s --help)\n", printable(what).c_str(), cmd.c_str());
    return kExitUsage;
}

int parse(const Command& command, int argc, char** argv, const OptionHandler& on_option) {
    const std::vector<option> options = with_help(command.options);
    // getopt_long wants a program name in argv[0] and a terminating null.
    std::string program = std::string("khotool ") + command.name;
    std::vector<char*> args;
    args.push_back(program.data());
    for (int i = 0; i < argc; ++i) args.push_back(argv[i]);
    args.push_back(nullptr);
    const int n = int(args.size()) - 1;

    optind = 0;  // glibc: full re-initialisation (tests run commands repeatedly)
    opterr = 0;  // our own messages, one line each
    // '+': stop at the first operand instead of permuting; ':': report a
    // missing value as ':' rather than '?'.
    for (;;) {
        int c = getopt_long(n, args.data(), "+:h", options.data(), nullptr);
        if (c == -1) break;
        const std::string value = optarg ? optarg : "";
        if (c == kHelp) {
            std::fputs(command.usage, stdout);
            return std::fflush(stdout) == 0 ? 0 : 1;
        }
        if (c == ':')
            return usage_error(command.name, std::string("option '") + args[optind - 1] + "' needs a value");
        if (c == '?') {
            // optopt: the unknown short option's letter, or the id of a
            // known long option given a value it does not take, or 0.
            if (optopt > 0 && optopt < 0x80)
                return usage_error(command.name, std::string("unknown option '-") + char(optopt) + "'");
            if (optopt)
                return usage_error(command.name, std::string("option '") + args[optind - 1] + "' takes no value");
            return usage_error(command.name, std::string("unknown option '") + args[optind - 1] + "'");
        }
        std::string wrong = on_option(c, value);
        if (!wrong.empty()) return usage_error(command.name, wrong);
    }
    if (command.first_operand) {
        *command.first_operand = optind - 1;  // args[0] is the program name
        return kRun;
    }
    if (optind < n) return usage_error(command.name, std::string("unexpected argument '") + args[optind] + "'");
    return kRun;
}

bool parse_u64(const std::string& s, uint64_t* out) {
    if (s.empty() || !std::isdigit(static_cast<unsigned char>(s[0]))) return false;
    char* end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(s.c_str(), &end, 0);
    if (*end || errno) return false;
    *out = v;
    return true;
}

}  // namespace kho::tools::cli
