// One command-line style for every khotool subcommand: getopt_long over
// what follows the subcommand's name, long options only (plus -h), and the
// same answers everywhere: -h/--help prints the subcommand's usage on
// stdout and exits 0; an unknown option, a missing value, a bad value or a
// stray argument is one line "khotool: error usage: WHAT (khotool CMD
// --help)" on stderr and exit 2. The line follows khotool's one error
// grammar ("khotool: error KIND: WHAT"), so scripts read every failure
// the same way.
#pragma once
#include <getopt.h>
#include <stdint.h>

#include <functional>
#include <string>

namespace kho::tools::cli {

inline constexpr int kExitUsage = 2;
// parse()'s answer when the command should run.
inline constexpr int kRun = -1;

struct Command {
    const char* name;       // "inspect": names the command in messages
    const char* usage;      // the whole help text, printed by -h/--help
    const option* options;  // getopt_long table ending in a zero entry; --help is added
    // Null: operands are refused. Else they are allowed and this gets the
    // index in argv of the first one (argc if none): khotool's own options
    // end at the subcommand's name.
    int* first_operand = nullptr;
};

// Called once per option with getopt_long's `val` and the option's value
// ("" when it takes none). Returns "" or what is wrong with the value,
// which becomes the usage error line.
using OptionHandler = std::function<std::string(int id, const std::string& value)>;

// Parses argv[0..argc) (what follows the subcommand's name; no program
// name). Returns kRun, 0 after printing help, or kExitUsage after one
// error line. Options stop at the first operand, which is refused unless
// command.first_operand asks for it: no khotool subcommand takes operands.
int parse(const Command& command, int argc, char** argv, const OptionHandler& on_option);

// Prints the usage error line for `command` ("" for khotool itself) and
// returns kExitUsage.
int usage_error(const char* command, const std::string& what);

// A number as C writes it (decimal, 0x hex, 0 octal), nothing else: no
// sign, no blanks, no trailing characters, no overflow.
bool parse_u64(const std::string& s, uint64_t* out);

}  // namespace kho::tools::cli
