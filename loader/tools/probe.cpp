// `khotool probe` command lines, reading and printing (probe.h says why).
#include "probe.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <unistd.h>

#include "abi/ram_probe.h"
#include "cli.h"
#include "efivarfs.h"
#include "json_writer.h"
#include "linux_sources.h"

namespace kho::tools {
namespace {

namespace probe = abi::probe;

const char kUsage[] =
    "usage: khotool probe arm [--efivars DIR]\n"
    "       khotool probe report [--efivars DIR] [--json]\n"
    "\n"
    "The RAM-retention probe: which RAM this machine's firmware rewrites across\n"
    "a warm reset. 'arm' asks khoboot to probe on the next boot (KhoProbeRequest):\n"
    "it fills free RAM with a pattern, resets warm, and the boot after compares\n"
    "before it allocates anything and stores KhoProbeResult. 'report' prints that\n"
    "result: each changed range with the UEFI memory type owning it after the\n"
    "reset. khoboot refuses a KHO state lying there (error kho-clobbered) and\n"
    "'khotool export' warns. Exit 0: done; 1: an error (one line \"khotool: error\n"
    "KIND: WHAT\" on stderr); 2: usage.\n"
    "\n"
    "defaults: --efivars /sys/firmware/efi/efivars\n"
    "  --json                 report: one JSON object instead of text\n"
    "  -h, --help             this text\n";

struct Options {
    std::string efivars = exporting::kEfivarfsDir;
    bool json = false;
};

enum LongOnly { kOptEfivars = 0x100, kOptJson };

int fail(const char* kind, const std::string& what) {
    std::fprintf(stderr, "khotool: error %s: %s\n", kind, printable(what).c_str());
    return 1;
}

int arm(const Options& o) {
    std::string err = exporting::check_efivarfs(o.efivars);
    if (!err.empty()) return fail("io", err);
    probe::Request r{probe::kRequestMagic, probe::kVersion, 0};
    std::vector<uint8_t> data(sizeof(r));
    std::memcpy(data.data(), &r, sizeof(r));
    err = exporting::write_variable(exporting::variable_path(o.efivars, probe::kRequestVariable), data);
    if (!err.empty()) return fail("io", err);
    std::printf("probe armed: the next boot through khoboot fills free RAM and resets warm;\n"
                "the boot after it stores the result ('khotool probe report').\n");
    return std::fflush(stdout) == 0 ? 0 : 1;
}

std::string size_text(uint64_t bytes) {
    char b[32];
    if (bytes >= (1ull << 20)) std::snprintf(b, sizeof(b), "%.1f MiB", double(bytes) / (1 << 20));
    else std::snprintf(b, sizeof(b), "%llu KiB", (unsigned long long)(bytes >> 10));
    return b;
}

void print_text(const ProbeResult& r) {
    std::printf("filled:   %llu bytes in %u ranges (salt 0x%llx)\n", (unsigned long long)r.filled_bytes,
                r.filled_ranges, (unsigned long long)r.salt);
    std::printf("changed:  %llu bytes in %u ranges%s\n", (unsigned long long)r.changed_bytes, r.total,
                r.count < r.total ? " (the first listed)" : "");
    for (uint32_t i = 0; i < r.count; i++) {
        const probe::ChangedRange& c = r.changes[i];
        std::printf("  0x%012llx-0x%012llx %10s  %s\n", (unsigned long long)c.start, (unsigned long long)c.end,
                    size_text(c.end - c.start).c_str(), probe_owner_name(c.type));
    }
}

bool print_json(const ProbeResult& r) {
    JsonWriter j(stdout);
    j.begin_object();
    j.key("version");
    j.number(probe::kVersion);
    j.key("salt");
    j.number(r.salt);
    j.key("filled_bytes");
    j.number(r.filled_bytes);
    j.key("filled_ranges");
    j.number(r.filled_ranges);
    j.key("changed_bytes");
    j.number(r.changed_bytes);
    j.key("changed_ranges");
    j.number(r.total);
    j.key("ranges");
    j.begin_array();
    for (uint32_t i = 0; i < r.count; i++) {
        j.begin_object();
        j.key("start");
        j.number(r.changes[i].start);
        j.key("end");
        j.number(r.changes[i].end);
        j.key("owner");
        j.string(probe_owner_name(r.changes[i].type));
        j.end_object();
    }
    j.end_array();
    j.key("truncated");
    j.boolean(r.count < r.total);
    j.end_object();
    return j.finish();
}

int report(const Options& o) {
    auto r = std::make_unique<ProbeResult>();
    bool found = false;
    std::string err = read_probe_result(o.efivars, r.get(), &found);
    if (!err.empty()) return fail("io", err);
    if (!found) {
        bool armed = access(exporting::variable_path(o.efivars, probe::kArmedVariable).c_str(), F_OK) == 0;
        return fail("io", std::string("no KhoProbeResult variable: ") +
                              (armed ? "a probe is armed, its check runs at the next boot"
                                     : "no probe has completed ('khotool probe arm', then reboot twice)"));
    }
    if (o.json) return print_json(*r) ? 0 : 1;
    print_text(*r);
    return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace

int khotool_probe(int argc, char** argv) {
    Options o;
    static const option kLong[] = {
        {"efivars", required_argument, nullptr, kOptEfivars},
        {"json", no_argument, nullptr, kOptJson},
        {nullptr, 0, nullptr, 0},
    };
    if (argc >= 1 && (!std::strcmp(argv[0], "-h") || !std::strcmp(argv[0], "--help"))) {
        std::fputs(kUsage, stdout);
        return 0;
    }
    if (argc < 1) return cli::usage_error("probe", "want 'arm' or 'report'");
    const std::string verb = argv[0];
    if (verb != "arm" && verb != "report")
        return cli::usage_error("probe", "unknown probe command '" + verb + "' (arm or report)");
    int rc = cli::parse({"probe", kUsage, kLong}, argc - 1, argv + 1, [&o](int id, const std::string& v) {
        if (id == kOptEfivars) o.efivars = v;
        if (id == kOptJson) o.json = true;
        return std::string();
    });
    if (rc != cli::kRun) return rc;
    if (verb == "arm") {
        if (o.json) return cli::usage_error("probe", "--json is for 'report'");
        return arm(o);
    }
    return report(o);
}

}  // namespace kho::tools
