// `khotool reboot`: the operator's one command to carry this kernel's KHO
// state (and its LUO sessions) through the firmware into khoboot.
//
// It gathers the facts (reboot_plan.h names the rules), refuses with one
// line and changes nothing when a rule fails, prints the plan, and then:
// loads the handoff image with kexec_file_load (the kernel's own kexec
// path, so liveupdate_reboot() serialises every session), removes a stale
// descriptor, names the checked boot entry in LoaderEntryOneShot, sets
// BootNext to khoboot's boot option and reboots into the handoff image
// (LINUX_REBOOT_CMD_KEXEC). The handoff image writes the descriptor and
// resets warm (handoff/main.cpp).
#include "reboot.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/kexec.h>
#include <linux/reboot.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "abi/khoboot_vendor.h"
#include "boot_options.h"
#include "cli.h"
#include "efivarfs.h"
#include "kernel_image.h"
#include "linux_sources.h"
#include "next_kernel.h"
#include "reboot_plan.h"

namespace kho::tools {
namespace {

using reboot::Facts;

const char kUsage[] =
    "usage: khotool reboot [--dry-run] [--entry XXXX] [--esp DIR] [--boot-entry ID]\n"
    "                      [--kernel FILE] [--current-kernel FILE] [--handoff FILE]\n"
    "                      [--manifest full|metadata|none] [--luo]\n"
    "                      [--efivars DIR] [--proc DIR] [--dev DIR] [--debugfs DIR]\n"
    "\n"
    "Hands this kernel's KHO state, with its LUO sessions, to khoboot through\n"
    "the firmware: checks every precondition, then loads the handoff image with\n"
    "kexec_file_load (the kernel serialises its sessions), sets BootNext to\n"
    "khoboot's boot option and LoaderEntryOneShot to the checked boot entry,\n"
    "and reboots. When a check fails: one line \"khotool: error KIND: WHAT\",\n"
    "exit 1, nothing changed.\n"
    "\n"
    "  --dry-run              print the plan and change nothing\n"
    "  --entry XXXX           khoboot's Boot#### option (hex); default: the one\n"
    "                         naming \\EFI\\khoboot\\khobootx64.efi or khoboot, else\n"
    "                         BootCurrent when khoboot booted this kernel\n"
    "  --esp DIR              the ESP (default: /efi, /boot/efi or /boot)\n"
    "  --boot-entry ID        khoboot's entry to boot (default: loader.conf's default)\n"
    "  --kernel FILE          check this kernel instead of the entry's\n"
    "  --current-kernel FILE  this kernel's image (default: found by its banner)\n"
    "  --handoff FILE         default: " KHOBOOT_HANDOFF_PATH "\n"
    "  --manifest LEVEL       integrity manifest the handoff writes (default full)\n"
    "  --luo                  require LUO (liveupdate=on) even with no session open\n"
    "  -h, --help             this text\n";

struct Options {
    bool dry_run = false, want_luo = false;
    std::optional<uint16_t> entry;
    std::string esp, boot_entry, kernel, current_kernel, handoff = KHOBOOT_HANDOFF_PATH;
    std::string manifest = "full";
    std::string efivars = exporting::kEfivarfsDir, proc = "/proc", dev = "/dev", debugfs = "/sys/kernel/debug";
};

enum LongOnly {
    kOptDryRun = 0x100, kOptEntry, kOptEsp, kOptBootEntry, kOptKernel, kOptCurrent, kOptHandoff,
    kOptManifest, kOptLuo, kOptEfivars, kOptProc, kOptDev, kOptDebugfs
};

int parse_options(int argc, char** argv, Options* o) {
    static const option kLong[] = {
        {"dry-run", no_argument, nullptr, kOptDryRun},
        {"entry", required_argument, nullptr, kOptEntry},
        {"esp", required_argument, nullptr, kOptEsp},
        {"boot-entry", required_argument, nullptr, kOptBootEntry},
        {"kernel", required_argument, nullptr, kOptKernel},
        {"current-kernel", required_argument, nullptr, kOptCurrent},
        {"handoff", required_argument, nullptr, kOptHandoff},
        {"manifest", required_argument, nullptr, kOptManifest},
        {"luo", no_argument, nullptr, kOptLuo},
        {"efivars", required_argument, nullptr, kOptEfivars},
        {"proc", required_argument, nullptr, kOptProc},
        {"dev", required_argument, nullptr, kOptDev},
        {"debugfs", required_argument, nullptr, kOptDebugfs},
        {nullptr, 0, nullptr, 0},
    };
    return cli::parse({"reboot", kUsage, kLong}, argc, argv, [o](int id, const std::string& v) -> std::string {
        switch (id) {
        case kOptDryRun: o->dry_run = true; break;
        case kOptEntry: {
            char* end = nullptr;
            unsigned long n = std::strtoul(v.c_str(), &end, 16);
            if (v.empty() || *end || n > 0xffff) return "--entry " + v + ": want a hex boot option number (0003)";
            o->entry = uint16_t(n);
            break;
        }
        case kOptEsp: o->esp = v; break;
        case kOptBootEntry: o->boot_entry = v; break;
        case kOptKernel: o->kernel = v; break;
        case kOptCurrent: o->current_kernel = v; break;
        case kOptHandoff: o->handoff = v; break;
        case kOptManifest:
            if (v != "full" && v != "metadata" && v != "none") return "--manifest " + v + ": want full, metadata or none";
            o->manifest = v;
            break;
        case kOptLuo: o->want_luo = true; break;
        case kOptEfivars: o->efivars = v; break;
        case kOptProc: o->proc = v; break;
        case kOptDev: o->dev = v; break;
        case kOptDebugfs: o->debugfs = v; break;
        }
        return "";
    });
}

bool exists(const std::string& p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0;
}

std::string read_text(const std::string& path) {
    std::string s;
    exporting::read_small_file(path, &s, 1 << 16);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.pop_back();
    return s;
}

// kho= as the kernel reads it (kstrtobool: 1/y/yes/on/true), else the
// debugfs directory KHO creates when it is on.
void gather_kho(const Options& o, Facts* f) {
    std::string cmdline = " " + read_text(o.proc + "/cmdline") + " ";
    size_t at = cmdline.find(" kho=");
    if (at != std::string::npos) {
        std::string v = cmdline.substr(at + 5, cmdline.find(' ', at + 1) - at - 5);
        f->kho_on = v == "1" || v == "y" || v == "Y" || v == "yes" || v == "on" || v == "true";
        f->kho_how = "kho=" + v + " on the command line";
        return;
    }
    f->kho_on = exists(o.debugfs + "/kho/out");
    f->kho_how = f->kho_on ? "debugfs kho/out exists" : "no kho= and no debugfs kho/";
}

// Session files are anon inodes named "[luo_session] NAME"
// (kernel/liveupdate/luo_session.c luo_session_getfile()).
unsigned count_luo_sessions(const std::string& proc) {
    unsigned n = 0;
    DIR* d = opendir(proc.c_str());
    if (!d) return 0;
    while (dirent* p = readdir(d)) {
        if (!std::isdigit(uint8_t(p->d_name[0]))) continue;
        std::string fds = proc + "/" + p->d_name + "/fd";
        DIR* fd = opendir(fds.c_str());
        if (!fd) continue;
        while (dirent* e = readdir(fd)) {
            char target[256];
            ssize_t len = readlink((fds + "/" + e->d_name).c_str(), target, sizeof(target) - 1);
            if (len > 0 && std::string(target, size_t(len)).find("[luo_session]") != std::string::npos) ++n;
        }
        closedir(fd);
    }
    closedir(d);
    return n;
}

// The ABI versions in the next kernel, and in the running one: an image
// whose banner is /proc/version (--current-kernel, the next kernel itself,
// /boot/vmlinuz-RELEASE).
void gather_abi(const Options& o, Facts* f) {
    image::KernelImage next;
    std::string err = image::read_kernel_image(f->kernel_path, &next);
    if (!err.empty()) {
        f->kernel_error = err;
        return;
    }
    for (const std::string& p : reboot::abi_prefixes(*f))
        for (const std::string& v : image::abi_versions(next.vmlinux, p)) f->next_abi.push_back(v);
    std::string banner = read_text(o.proc + "/version");
    utsname u{};
    uname(&u);
    std::vector<std::string> candidates;
    if (!o.current_kernel.empty()) candidates.push_back(o.current_kernel);
    candidates.push_back(f->kernel_path);
    candidates.push_back(std::string("/boot/vmlinuz-") + u.release);
    for (const std::string& c : candidates) {
        image::KernelImage img;
        if (c == f->kernel_path) img = next;
        else if (!image::read_kernel_image(c, &img).empty()) continue;
        if (banner.empty() || !image::contains(img.vmlinux, banner)) continue;
        f->running_known = true;
        f->running_source = c;
        for (const std::string& p : reboot::abi_prefixes(*f))
            for (const std::string& v : image::abi_versions(img.vmlinux, p)) f->running_abi.push_back(v);
        return;
    }
    f->running_error = "no image with this kernel's banner (" + o.proc +
                       "/version) among --current-kernel, the next kernel and /boot/vmlinuz-" + u.release;
}

Facts gather(const Options& o) {
    Facts f;
    f.want_luo = o.want_luo;
    gather_kho(o, &f);
    f.luo_on = exists(o.dev + "/liveupdate");
    f.luo_sessions = count_luo_sessions(o.proc);
    if (auto e = boot_options::find_khoboot_entry(o.efivars, o.entry, &f.entry_error)) {
        f.entry = e->number;
        f.entry_why = e->why;
    }
    f.handoff_path = o.handoff;
    // The handoff image is not compressed: only its header must be right.
    std::string herr = image::check_bzimage(o.handoff);
    if (!herr.empty()) f.handoff_error = "handoff image " + herr;
    if (!o.kernel.empty()) {
        f.kernel_path = o.kernel;
        f.boot_entry_id = o.boot_entry;  // named in LoaderEntryOneShot all the same
    } else {
        reboot::NextKernel nk;
        f.kernel_error = reboot::find_next_kernel(o.esp, o.boot_entry, &nk);
        f.kernel_path = nk.kernel;
        f.boot_entry_id = nk.entry_id;
    }
    if (f.kernel_error.empty() && f.kho_on) gather_abi(o, &f);
    return f;
}

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const std::string& x : v) s += (s.empty() ? "" : ",") + x;
    return s;
}

// What debugfs shows of the state before it is final (LUO serialises its
// sessions only on the kexec; the handoff image reports the final state).
void print_live_state(const Options& o) {
    std::string phys, len, fdt;
    std::vector<abi::KhoScratch> scratch;
    if (!exporting::read_small_file(o.debugfs + "/kho/out/scratch_phys", &phys, 1 << 16) ||
        !exporting::read_small_file(o.debugfs + "/kho/out/scratch_len", &len, 1 << 16) ||
        !exporting::parse_scratch_lists(phys, len, &scratch)) {
        std::printf("reboot: state not visible here (no debugfs kho/out); the handoff image reports it\n");
        return;
    }
    for (const abi::KhoScratch& s : scratch)
        std::printf("reboot: scratch 0x%llx+0x%llx\n", (unsigned long long)s.addr, (unsigned long long)s.size);
    if (exporting::read_small_file(o.debugfs + "/kho/out/fdt", &fdt, 1 << 20))
        std::printf("reboot: state root FDT %zu bytes (debugfs kho/out/fdt); sub-nodes and ranges are final only "
                    "after the kexec serialises them\n", fdt.size());
}

void print_plan(const Options& o, const Facts& f) {
    std::printf("reboot: kho on (%s)\n", f.kho_how.c_str());
    std::printf("reboot: luo %s sessions=%u\n", f.luo_on ? "on" : "off", f.luo_sessions);
    std::printf("reboot: firmware boot option %s (%s)\n", boot_options::option_name(*f.entry).c_str(),
                f.entry_why.c_str());
    std::printf("reboot: khoboot entry %s kernel %s\n", f.boot_entry_id.empty() ? "(default)" : f.boot_entry_id.c_str(),
                f.kernel_path.c_str());
    std::printf("reboot: abi this kernel %s (%s), next kernel %s\n", join(f.running_abi).c_str(),
                f.running_source.c_str(), join(f.next_abi).c_str());
    std::printf("reboot: handoff %s manifest=%s\n", f.handoff_path.c_str(), o.manifest.c_str());
    print_live_state(o);
}

int fail(const std::string& kind, const std::string& what) {
    std::fprintf(stderr, "khotool: error %s: %s\n", kind.c_str(), what.c_str());
    return 1;
}

std::string global_var(const Options& o, const char* name) {
    return o.efivars + "/" + name + "-" + boot_options::kGlobalGuid;
}
std::string loader_var(const Options& o, const char* name) {
    return o.efivars + "/" + name + "-" + boot_options::kLoaderGuid;
}

std::vector<uint8_t> ucs2z(const std::string& s) {
    std::vector<uint8_t> out;
    for (char c : s) out.insert(out.end(), {uint8_t(c), 0});
    out.insert(out.end(), {0, 0});
    return out;
}

// Undone on any later failure: nothing half-done is left.
void undo(const Options& o) {
    syscall(SYS_kexec_file_load, -1, -1, 0, nullptr, KEXEC_FILE_UNLOAD);
    exporting::remove_variable(global_var(o, "BootNext"));
    exporting::remove_variable(loader_var(o, "LoaderEntryOneShot"));
}

int act(const Options& o, const Facts& f) {
    int kfd = open(f.handoff_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (kfd < 0) return fail("no-handoff", f.handoff_path + ": " + std::strerror(errno));
    std::string cmdline = "khoboot.handoff.manifest=" + o.manifest;
    long rc = syscall(SYS_kexec_file_load, kfd, -1, cmdline.size() + 1, cmdline.c_str(), KEXEC_FILE_NO_INITRAMFS);
    int e = errno;
    close(kfd);
    if (rc != 0) return fail("kexec", "kexec_file_load(" + f.handoff_path + "): " + std::strerror(e));
    std::string err;
    for (const char* v : {abi::kDescriptorVariable, abi::kManifestVariable})
        if (err.empty()) err = exporting::remove_variable(exporting::variable_path(o.efivars, v));
    if (err.empty() && !f.boot_entry_id.empty()) {
        exporting::remove_variable(loader_var(o, "LoaderEntryOneShot"));
        err = exporting::write_variable(loader_var(o, "LoaderEntryOneShot"), ucs2z(f.boot_entry_id));
    }
    if (err.empty()) {
        exporting::remove_variable(global_var(o, "BootNext"));
        err = exporting::write_variable(global_var(o, "BootNext"), {uint8_t(*f.entry), uint8_t(*f.entry >> 8)});
    }
    if (!err.empty()) {
        undo(o);
        return fail("efivars", err);
    }
    std::printf("reboot: kexec into the handoff image\n");
    std::fflush(stdout);
    sync();
    ::reboot(LINUX_REBOOT_CMD_KEXEC);
    e = errno;
    undo(o);
    return fail("kexec", std::string("reboot(LINUX_REBOOT_CMD_KEXEC): ") + std::strerror(e));
}

}  // namespace

int khotool_reboot(int argc, char** argv) {
    Options o;
    int rc = parse_options(argc, argv, &o);
    if (rc != cli::kRun) return rc;
    Facts f = gather(o);
    reboot::Verdict v = reboot::check(f);
    if (!v.ok) return fail(v.kind, v.message);
    print_plan(o, f);
    if (o.dry_run) {
        std::printf("reboot: dry run, nothing changed\n");
        return 0;
    }
    return act(o, f);
}

}  // namespace kho::tools
