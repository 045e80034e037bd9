// run_program.h says why; fork + execvp + one pipe, as posix_spawn would
// do, kept explicit so a failed exec is told apart from a failing program.
#include "run_program.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kho::tools {
namespace {

// The child: stdout to the pipe, then exec; 127 is the shell's
// "command not found", reported on the status pipe first.
[[noreturn]] void exec_child(const std::vector<std::string>& argv, int out_fd, int status_fd) {
    dup2(out_fd, STDOUT_FILENO);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    int err = errno;
    (void)!write(status_fd, &err, sizeof(err));
    _exit(127);
}

std::string read_all(int fd) {
    std::string s;
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        s.append(buf, size_t(n));
    }
    return s;
}

}  // namespace

ProgramResult run_program(const std::vector<std::string>& argv) {
    ProgramResult r;
    int out[2], status[2];
    if (pipe(out) != 0) return r.error = std::strerror(errno), r;
    // O_CLOEXEC: a successful exec closes it, so the parent reads EOF.
    if (pipe2(status, O_CLOEXEC) != 0) {
        r.error = std::strerror(errno);
        close(out[0]), close(out[1]);
        return r;
    }
    pid_t pid = fork();
    if (pid < 0) {
        r.error = std::strerror(errno);
        close(out[0]), close(out[1]), close(status[0]), close(status[1]);
        return r;
    }
    if (pid == 0) {
        close(out[0]), close(status[0]);
        exec_child(argv, out[1], status[1]);
    }
    close(out[1]), close(status[1]);
    r.out = read_all(out[0]);
    close(out[0]);
    std::string exec_err = read_all(status[0]);
    close(status[0]);
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
    }
    if (exec_err.size() == sizeof(int)) {
        int err;
        std::memcpy(&err, exec_err.data(), sizeof(err));
        r.error = "cannot run " + argv[0] + ": " + std::strerror(err);
        return r;
    }
    if (WIFEXITED(ws)) r.exit_code = WEXITSTATUS(ws);
    else r.error = argv[0] + " was killed by signal " + std::to_string(WTERMSIG(ws));
    return r;
}

std::string command_line(const std::vector<std::string>& argv) {
    std::string s;
    for (const std::string& a : argv) {
        if (!s.empty()) s += ' ';
        bool plain = !a.empty() && a.find_first_of(" \t\\'\"") == std::string::npos;
        s += plain ? a : "'" + a + "'";
    }
    return s;
}

}  // namespace kho::tools
