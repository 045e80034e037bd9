// `khotool status` command line, reading and printing (status.h says why).
#include "status.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "abi/boot_record.h"
#include "cli.h"
#include "efivarfs.h"
#include "json_writer.h"
#include "linux_sources.h"
#include "loader/boot_attempt.h"

namespace kho::tools {
namespace {

const char kUsage[] =
    "usage: khotool status [--efivars DIR] [--json]\n"
    "\n"
    "Prints what the last boot through khoboot did, from the KhoBootStatus\n"
    "variable: its outcome (handover, cold-boot, halt), the first error's kind\n"
    "and message, the boot entry, the phase timings and the time from khoboot's\n"
    "entry to the jump into the kernel. Exit 0: printed; 1: no such variable or\n"
    "a malformed one (one line \"khotool: error KIND: WHAT\" on stderr); 2: usage.\n"
    "\n"
    "defaults: --efivars /sys/firmware/efi/efivars\n"
    "  --json                 one JSON object instead of text\n"
    "  -h, --help             this text\n";

struct Options {
    std::string efivars = exporting::kEfivarfsDir;
    bool json = false;
};

enum LongOnly { kOptEfivars = 0x100, kOptJson };

int parse_options(int argc, char** argv, Options* o) {
    static const option kLong[] = {
        {"efivars", required_argument, nullptr, kOptEfivars},
        {"json", no_argument, nullptr, kOptJson},
        {nullptr, 0, nullptr, 0},
    };
    return cli::parse({"status", kUsage, kLong}, argc, argv, [o](int id, const std::string& v) {
        if (id == kOptEfivars) o->efivars = v;
        if (id == kOptJson) o->json = true;
        return std::string();
    });
}

int fail(const char* kind, const std::string& what) {
    std::fprintf(stderr, "khotool: error %s: %s\n", kind, printable(what).c_str());
    return 1;
}

// The variable's data (efivarfs puts 4 attribute bytes first), or "" and
// the error line printed with *rc set.
bool read_status_variable(const Options& o, std::string* data, int* rc) {
    std::string err = exporting::check_efivarfs(o.efivars);
    if (!err.empty()) {
        *rc = fail("io", err);
        return false;
    }
    const std::string path = exporting::variable_path(o.efivars, abi::boot_record::kStatusVariable);
    std::string raw;
    // Twice the limit: a longer variable is read whole and refused by the
    // parser with its size, instead of being cut to a valid prefix.
    if (!exporting::read_small_file(path, &raw, 2 * abi::boot_record::kStatusMaxBytes + 4)) {
        if (errno == ENOENT) {
            *rc = fail("io", std::string("no KhoBootStatus variable (") + path +
                                 "): this boot did not come through khoboot, or khoboot could not write it");
        } else {
            *rc = fail("io", path + ": " + std::strerror(errno));
        }
        return false;
    }
    if (raw.size() < 4) {
        *rc = fail("io", path + ": " + std::to_string(raw.size()) + " bytes, not even the 4 attribute bytes");
        return false;
    }
    *data = raw.substr(4);
    return true;
}

std::string or_none(const char* s) { return s ? s : "-"; }

void print_text(const ParsedBootStatus& p) {
    const BootStatus& s = p.status;
    std::printf("outcome:           %s\n", boot_outcome_name(s.outcome));
    std::printf("error:             %s\n", printable(s.error_kind ? s.error_kind : "none").c_str());
    std::printf("message:           %s\n", printable(or_none(s.message)).c_str());
    std::printf("entry:             %s\n", printable(or_none(s.entry)).c_str());
    std::printf("phases:            %zu\n", s.phase_count);
    for (size_t i = 0; i < s.phase_count; ++i)
        std::printf("  %-16s %10llu us\n", printable(s.phases[i].name).c_str(),
                    (unsigned long long)s.phases[i].us);
    std::printf("entry to jump:     %llu us\n", (unsigned long long)s.entry_to_jump_us);
}

void string_or_null(JsonWriter& j, const char* key, const char* value) {
    j.key(key);
    if (value) j.string(value);
    else j.null();
}

bool print_json(const ParsedBootStatus& p) {
    const BootStatus& s = p.status;
    JsonWriter j(stdout);
    j.begin_object();
    j.key("version");
    j.number(p.version);
    j.key("outcome");
    j.string(boot_outcome_name(s.outcome));
    string_or_null(j, "error", s.error_kind);
    string_or_null(j, "message", s.message);
    string_or_null(j, "entry", s.entry);
    j.key("phases");
    j.begin_array();
    for (size_t i = 0; i < s.phase_count; ++i) {
        j.begin_object();
        j.key("name");
        j.string(s.phases[i].name);
        j.key("us");
        j.number(s.phases[i].us);
        j.end_object();
    }
    j.end_array();
    j.key("entry_to_jump_us");
    j.number(s.entry_to_jump_us);
    j.end_object();
    return j.finish();
}

}  // namespace

int khotool_status(int argc, char** argv) {
    Options o;
    int rc = parse_options(argc, argv, &o);
    if (rc != cli::kRun) return rc;
    std::string data;
    if (!read_status_variable(o, &data, &rc)) return rc;
    auto parsed = std::make_unique<ParsedBootStatus>();
    Status s = parse_boot_status(data.data(), data.size(), parsed.get());
    if (!s) return fail(err_name(s.code()), s.message());
    if (o.json) return print_json(*parsed) ? 0 : 1;
    print_text(*parsed);
    return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace kho::tools
