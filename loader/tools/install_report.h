// What install/remove print: one line per change ("khotool install:
// installed ..."), "would ..." under --dry-run, and khotool's one error
// line. Shared so both commands read alike.
#pragma once
#include <cstdarg>
#include <cstdio>
#include <string>

#include "json_writer.h"

namespace kho::tools::install {

struct Report {
    const char* command;
    bool dry_run;

    __attribute__((format(printf, 2, 3))) void line(const char* fmt, ...) const {
        char buf[1024];
        va_list ap;
        va_start(ap, fmt);
        std::vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        std::printf("khotool %s: %s%s\n", command, dry_run ? "dry run: " : "", buf);
    }
    int error(const char* kind, const std::string& what) const {
        std::fflush(stdout);
        std::fprintf(stderr, "khotool: error %s: %s\n", kind, printable(what).c_str());
        return 1;
    }
};

}  // namespace kho::tools::install
