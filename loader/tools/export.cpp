// `khotool export` command line and flow (export.h says what and why).
#include "export.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "abi/khoboot_vendor.h"
#include "cli.h"
#include "probe.h"

namespace kho::tools {
namespace {

using namespace exporting;

const char kUsage[] =
    "usage: khotool export [--debugfs DIR] [--mem FILE] [--iomem FILE]\n"
    "                      [--efivars DIR] [--manifest full|metadata|none]\n"
    "                      [--dry-run] [--verbose]\n"
    "\n"
    "Hands this kernel's live KHO state to the firmware path: finds the root\n"
    "FDT through the preserved-memory map, checks the state as khoboot does and\n"
    "writes the KhoHandover descriptor (and the KhoManifest integrity manifest)\n"
    "through efivarfs. Exit 0: written (or checked, with --dry-run); 1: refused\n"
    "(one line \"khotool: error KIND: WHAT\" on stderr, no descriptor left); 2: usage.\n"
    "\n"
    "defaults: --debugfs /sys/kernel/debug/kho/out --mem /dev/mem --iomem /proc/iomem\n"
    "          --efivars /sys/firmware/efi/efivars --manifest full\n"
    "  --dry-run              check and report, write no variable\n"
    "  --verbose              list the scratch regions and the protected ranges\n"
    "  -h, --help             this text\n";

struct Options {
    std::string debugfs = "/sys/kernel/debug/kho/out";
    std::string mem = "/dev/mem";
    std::string iomem = "/proc/iomem";
    std::string efivars = kEfivarfsDir;
    ManifestLevel level = ManifestLevel::Full;
    bool dry_run = false;
    bool verbose = false;
};

enum LongOnly { kOptDebugfs = 0x100, kOptMem, kOptIomem, kOptEfivars, kOptManifest, kOptDryRun, kOptVerbose };

int parse_options(int argc, char** argv, Options* o) {
    static const option kLong[] = {
        {"debugfs", required_argument, nullptr, kOptDebugfs},
        {"mem", required_argument, nullptr, kOptMem},
        {"iomem", required_argument, nullptr, kOptIomem},
        {"efivars", required_argument, nullptr, kOptEfivars},
        {"manifest", required_argument, nullptr, kOptManifest},
        {"dry-run", no_argument, nullptr, kOptDryRun},
        {"verbose", no_argument, nullptr, kOptVerbose},
        {nullptr, 0, nullptr, 0},
    };
    return cli::parse({"export", kUsage, kLong}, argc, argv, [o](int id, const std::string& v) {
        switch (id) {
        case kOptDebugfs: o->debugfs = v; break;
        case kOptMem: o->mem = v; break;
        case kOptIomem: o->iomem = v; break;
        case kOptEfivars: o->efivars = v; break;
        case kOptManifest:
            if (v == "full") o->level = ManifestLevel::Full;
            else if (v == "metadata") o->level = ManifestLevel::Metadata;
            else if (v == "none") o->level = ManifestLevel::None;
            else return "--manifest " + v + ": want full, metadata or none";
            break;
        case kOptDryRun: o->dry_run = true; break;
        case kOptVerbose: o->verbose = true; break;
        }
        return std::string();
    });
}

int fail(const Status& s) {
    std::fprintf(stderr, "khotool: error %s: %s\n", err_name(s.code()), s.message());
    return 1;
}

int fail_io(const std::string& what) {
    std::fprintf(stderr, "khotool: error io: %s\n", what.c_str());
    return 1;
}

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

// What Linux shows: the FDT copy (or, on a kernel booted with KHO state,
// which shows none, its sub-FDTs: root_fdt_scan.h), the scratch lists, the
// RAM map.
struct LinuxView {
    std::string fdt;
    std::vector<SubtreeBlob> subtrees;
    std::vector<abi::KhoScratch> scratch;
    std::vector<Range> ram;
};

// True if this kernel was booted with KHO state: debugfs kho/in beside out.
bool booted_with_kho(const Options& o) {
    std::string in = o.debugfs + "/../in";
    return access(in.c_str(), F_OK) == 0;
}

// The root FDT's copy, or the sub-FDTs when the kernel shows no copy.
std::string read_root_view(const Options& o, LinuxView* v) {
    if (read_small_file(o.debugfs + "/fdt", &v->fdt, 4096)) return "";
    if (errno == ENOENT && booted_with_kho(o)) return read_sub_fdts(o.debugfs + "/sub_fdts", &v->subtrees);
    return errno_text(o.debugfs + "/fdt") + " (kho=on? debugfs mounted?)";
}

// Reads and parses them; on failure prints the error line and sets *rc.
bool read_linux_view(const Options& o, LinuxView* v, int* rc) {
    std::string phys, len, iomem;
    std::string err = read_root_view(o, v);
    if (err.empty() && !read_small_file(o.debugfs + "/scratch_phys", &phys, 65536))
        err = errno_text(o.debugfs + "/scratch_phys");
    if (err.empty() && !read_small_file(o.debugfs + "/scratch_len", &len, 65536))
        err = errno_text(o.debugfs + "/scratch_len");
    if (err.empty() && !read_small_file(o.iomem, &iomem, 1 << 20))
        err = errno_text(o.iomem);
    if (!err.empty()) {
        *rc = fail_io(err);
        return false;
    }
    Status s = parse_scratch_lists(phys, len, &v->scratch);
    if (s) s = parse_iomem_ram(iomem, &v->ram);
    if (!s) *rc = fail(s);
    return bool(s);
}

// Any descriptor present now is stale: the running kernel owns all RAM,
// so the state an earlier boot described is gone. Removed first, so that
// every failure after leaves no descriptor behind.
std::string remove_stale(const Options& o, const std::string& desc_var, const std::string& manifest_var) {
    std::string err = check_efivarfs(o.efivars);
    for (const std::string& v : {desc_var, manifest_var})
        if (err.empty()) err = remove_variable(v);
    return err;
}

// The manifest first, the descriptor last: the descriptor is what makes
// the loader act, so it must never name a missing manifest.
std::string write_variables(const ExportPlan& plan, const std::string& desc_var,
                            const std::string& manifest_var) {
    std::string err;
    if (!plan.manifest.empty()) {
        err = write_variable(manifest_var, plan.manifest);
        if (!err.empty()) {
            remove_variable(manifest_var);
            return err;
        }
    }
    err = write_variable(desc_var, plan.descriptor);
    if (!err.empty()) {
        remove_variable(desc_var);
        remove_variable(manifest_var);
    }
    return err;
}

void print_result(const Options& o, const LinuxView& v, const ExportPlan& plan) {
    if (o.verbose) {
        for (const abi::KhoScratch& sc : v.scratch)
            std::printf("scratch 0x%llx+0x%llx\n", (unsigned long long)sc.addr, (unsigned long long)sc.size);
        for (const Range& r : plan.protect)
            std::printf("protect 0x%llx-0x%llx\n", (unsigned long long)r.start, (unsigned long long)r.end);
    }
    std::printf("export %s compatible=%s fdt=0x%llx fdt_crc32=0x%08x map=0x%llx blocks=%llu "
                "preserved_bytes=%llu metadata_pages=%llu subnodes=%zu scratch=%zu protect=%zu "
                "manifest=%s entries=%u+%u bytes=%zu descriptor_bytes=%zu\n",
                o.dry_run ? "dry-run" : "ok", plan.compatible, (unsigned long long)plan.fdt_addr,
                plan.fdt_crc32, (unsigned long long)plan.map_root, (unsigned long long)plan.blocks,
                (unsigned long long)plan.preserved_bytes, (unsigned long long)plan.metadata_pages,
                plan.subnodes, plan.scratch_count, plan.protect.size(),
                manifest_level_name(plan.manifest_level), plan.metadata_entries, plan.data_entries,
                plan.manifest.size(), plan.descriptor.size());
    if (o.level == ManifestLevel::Full && plan.manifest_level != ManifestLevel::Full)
        std::printf("note: manifest holds metadata only: %u data ranges exceed the %zu-byte budget\n",
                    plan.data_entries, kManifestBudget);
}

// A state lying where the last RAM-retention probe saw the firmware
// rewrite RAM will be refused by khoboot (kho-clobbered): one warning line
// naming those parts, before anything is written.
void warn_clobbered(const Options& o, const ExportPlan& plan) {
    auto r = std::make_unique<ProbeResult>();
    bool found = false;
    std::string err = read_probe_result(o.efivars, r.get(), &found);
    if (!found) return;
    if (!err.empty()) {
        std::fprintf(stderr, "khotool: note: probe result ignored: %s\n", err.c_str());
        return;
    }
    std::vector<Range> storage(plan.protect.size() + 1);
    RangeSet state(storage.data(), storage.size());
    for (const Range& x : plan.protect) (void)state.add(x);
    state.normalize();
    Range parts[8];
    size_t n = probe_clobbered(*r, state, parts, nullptr, 8);
    if (!n) return;
    std::string list;
    for (size_t i = 0; i < n && i < 8; i++) {
        char b[48];
        std::snprintf(b, sizeof(b), "%s0x%llx-0x%llx", i ? ", " : "", (unsigned long long)parts[i].start,
                      (unsigned long long)parts[i].end);
        list += b;
    }
    if (n > 8) list += ", ... (" + std::to_string(n) + " in all)";
    std::fprintf(stderr,
                 "khotool: warning: the state lies in RAM this firmware rewrote across the probe's warm reset "
                 "(KhoProbeResult): %s; khoboot will refuse it (kho-clobbered)\n", list.c_str());
}

// The root FDT's bytes as the kernel shows them, or, when it shows none,
// as RAM holds them at the page that names its sub-FDTs.
Status root_fdt_bytes(const Options& o, const PhysMem& mem, const LinuxView& v, std::string* out) {
    if (!v.fdt.empty()) {
        *out = v.fdt;
        return Status::ok();
    }
    RootScan scan;
    KHO_TRY(scan_root_fdt(mem, v.ram, v.subtrees, &scan));
    const uint8_t* page = mem.view(scan.fdt_addr, abi::kRootFdtSize);
    if (!page) return Status::error(Err::OutOfRam, "root FDT page 0x%llx unreadable", (unsigned long long)scan.fdt_addr);
    out->assign(reinterpret_cast<const char*>(page), abi::kRootFdtSize);
    if (o.verbose)
        std::printf("root-fdt 0x%llx found by its %zu sub-FDT(s) in RAM (this kernel was booted with KHO state: "
                    "no debugfs kho/out/fdt; %llu pages begin with the FDT magic)\n",
                    (unsigned long long)scan.fdt_addr, v.subtrees.size(), (unsigned long long)scan.fdt_pages);
    return Status::ok();
}

// Finds and checks the state; prints the error line itself on failure.
bool plan_state(const Options& o, const LinuxView& v, ExportPlan* plan) {
    DevMem mem;
    std::string err = mem.open(o.mem, v.ram);
    if (err.empty()) err = mem.probe();
    if (!err.empty()) {
        fail_io(err);
        return false;
    }
    FdtLocation where;
    std::string fdt;
    Status s = root_fdt_bytes(o, mem, v, &fdt);
    if (s) s = locate_root_fdt(mem, reinterpret_cast<const uint8_t*>(fdt.data()), fdt.size(), &where);
    if (s) s = plan_export(mem, where.fdt_addr, v.scratch, o.level, kManifestBudget, plan);
    if (s) return true;
    if (mem.last_errno())
        std::fprintf(stderr, "khotool: note: mapping 0x%llx through %s failed: %s\n",
                     (unsigned long long)mem.last_error_addr(), o.mem.c_str(), std::strerror(mem.last_errno()));
    fail(s);
    return false;
}

}  // namespace

int khotool_export(int argc, char** argv) {
    Options o;
    int rc = parse_options(argc, argv, &o);
    if (rc != cli::kRun) return rc;

    const std::string desc_var = variable_path(o.efivars, abi::kDescriptorVariable);
    const std::string manifest_var = variable_path(o.efivars, abi::kManifestVariable);
    if (!o.dry_run) {
        std::string err = remove_stale(o, desc_var, manifest_var);
        if (!err.empty()) return fail_io(err);
    }
    LinuxView view;
    if (!read_linux_view(o, &view, &rc)) return rc;
    ExportPlan plan;
    if (!plan_state(o, view, &plan)) return 1;
    warn_clobbered(o, plan);
    if (!o.dry_run) {
        std::string err = write_variables(plan, desc_var, manifest_var);
        if (!err.empty()) return fail_io(err);
    }
    print_result(o, view, plan);
    return 0;
}

}  // namespace kho::tools
