// Runs another program (efibootmgr, findmnt) the safe way: argv as given,
// no shell, stdout captured, stderr passed through so its own message
// reaches the operator. The program is looked up on PATH (execvp), which
// is also how the host tests put a recording fake in its place.
#pragma once
#include <string>
#include <vector>

namespace kho::tools {

struct ProgramResult {
    int exit_code = -1;   // 0..255, or -1 if it could not run or was killed
    std::string out;      // everything it wrote to stdout
    std::string error;    // "" or why it could not run at all
};

ProgramResult run_program(const std::vector<std::string>& argv);

// "efibootmgr -b 0003 -B": for messages and --dry-run.
std::string command_line(const std::vector<std::string>& argv);

}  // namespace kho::tools
