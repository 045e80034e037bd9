// `khotool install` (install.h says what it may and may not touch).
#include "install.h"

#include <cstdio>
#include <string>

#include "boot_option.h"
#include "cli.h"
#include "esp_device.h"
#include "esp_files.h"
#include "install_record.h"
#include "install_report.h"
#include "run_program.h"
#include "json_writer.h"

namespace kho::tools {
namespace {

using namespace install;

const char kUsage[] =
    "usage: khotool install --esp DIR [--loader FILE] [--label TEXT] [--first]\n"
    "                       [--no-nvram] [--disk DEV --partition N] [--sysfs DIR] [--dry-run]\n"
    "\n"
    "Installs khoboot on the EFI System Partition mounted at DIR as\n"
    "EFI/khoboot/khobootx64.efi and registers a Boot#### option for it with\n"
    "efibootmgr. Writes loader/loader.conf only if the ESP has none; never\n"
    "touches another loader's files. An existing khoboot install is upgraded in\n"
    "place. What it did is recorded in EFI/khoboot/install-record for\n"
    "'khotool remove'.\n"
    "\n"
    "  --esp DIR              the ESP's mount point (required)\n"
    "  --loader FILE          the EFI binary (default /usr/lib/khoboot/khobootx64.efi)\n"
    "  --label TEXT           the Boot#### option's description (default khoboot)\n"
    "  --first                also put the option first in BootOrder (default: left\n"
    "                         out of BootOrder; 'khotool reboot' uses BootNext)\n"
    "  --no-nvram             do not create a Boot#### option\n"
    "  --disk DEV, --partition N  the ESP's disk and partition number (default: found\n"
    "                         with findmnt and sysfs)\n"
    "  --sysfs DIR            where sysfs is mounted (default /sys)\n"
    "  --dry-run              print what would be done, change nothing\n"
    "  -h, --help             this text\n";

struct Options {
    std::string esp;
    std::string loader = "/usr/lib/khoboot/khobootx64.efi";
    std::string label = "khoboot";
    std::string sysfs = "/sys";
    EspDevice device;
    bool first = false, nvram = true, dry_run = false;
};

enum LongOnly { kEsp = 0x100, kLoader, kLabel, kFirst, kNoNvram, kDisk, kPartition, kSysfs, kDryRun };

int parse_options(int argc, char** argv, Options* o) {
    static const option kLong[] = {
        {"esp", required_argument, nullptr, kEsp},       {"loader", required_argument, nullptr, kLoader},
        {"label", required_argument, nullptr, kLabel},   {"first", no_argument, nullptr, kFirst},
        {"no-nvram", no_argument, nullptr, kNoNvram},    {"disk", required_argument, nullptr, kDisk},
        {"partition", required_argument, nullptr, kPartition}, {"sysfs", required_argument, nullptr, kSysfs},
        {"dry-run", no_argument, nullptr, kDryRun},      {nullptr, 0, nullptr, 0},
    };
    int rc = cli::parse({"install", kUsage, kLong}, argc, argv, [o](int id, const std::string& v) {
        uint64_t n = 0;
        switch (id) {
        case kEsp: o->esp = v; break;
        case kLoader: o->loader = v; break;
        case kLabel: o->label = v; break;
        case kFirst: o->first = true; break;
        case kNoNvram: o->nvram = false; break;
        case kDisk: o->device.disk = v; break;
        case kPartition:
            if (!cli::parse_u64(v, &n) || n == 0 || n > 128) return "--partition wants 1..128, got '" + v + "'";
            o->device.partition = unsigned(n);
            break;
        case kSysfs: o->sysfs = v; break;
        case kDryRun: o->dry_run = true; break;
        }
        return std::string();
    });
    if (rc != cli::kRun) return rc;
    if (o->esp.empty()) return cli::usage_error("install", "--esp DIR is required");
    if (o->device.disk.empty() != (o->device.partition == 0))
        return cli::usage_error("install", "--disk and --partition go together");
    if (o->label.empty() || o->label.find('\t') != std::string::npos)
        return cli::usage_error("install", "--label must be non-empty, without tabs");
    return cli::kRun;
}

// The loader's bytes, refused unless they start like a PE image ("MZ",
// PE/COFF section 2): the ESP must never get a file the firmware rejects.
std::string read_loader(const std::string& path, std::string* bytes) {
    std::string err = read_file(path, bytes);
    if (!err.empty()) return err;
    if (bytes->size() < 0x40 || bytes->compare(0, 2, "MZ") != 0)
        return path + " is not an EFI application (no MZ header)";
    return "";
}

// The record of an earlier install, or an empty one.
std::string read_record(const std::string& esp, Record* rec, bool* upgrade) {
    const std::string path = esp + "/" + kRecordPath;
    *upgrade = exists(path);
    if (!*upgrade) return "";
    std::string text, err = read_file(path, &text);
    if (err.empty()) err = parse_record(text, rec);
    return err.empty() ? "" : path + ": " + err;
}

template <class T>
void add_once(std::vector<T>* v, const T& x) {
    for (const T& y : *v)
        if (y == x) return;
    v->push_back(x);
}

std::string install_files(const Options& o, const std::string& loader, Record* rec, Report& say) {
    for (const char* d : {"EFI", "EFI/khoboot", "loader", "loader/entries"}) {
        const std::string path = o.esp + "/" + d;
        if (is_dir(path)) continue;
        if (std::string e = say.dry_run ? "" : make_dir(path); !e.empty()) return e;
        add_once(&rec->dirs, std::string(d));
        say.line("created directory %s", d);
    }
    const bool had = exists(o.esp + "/" + kLoaderPath);
    if (std::string e = say.dry_run ? "" : write_file_atomic(o.esp + "/" + kLoaderPath, loader); !e.empty()) return e;
    add_once(&rec->files, std::string(kLoaderPath));
    say.line("%s %s (%zu bytes)", had ? "upgraded" : "installed", kLoaderPath, loader.size());
    if (exists(o.esp + "/" + kLoaderConfPath)) {
        say.line("kept the existing %s", kLoaderConfPath);
        return "";
    }
    if (std::string e = say.dry_run ? "" : write_file_atomic(o.esp + "/" + kLoaderConfPath, kLoaderConfTemplate);
        !e.empty())
        return e;
    add_once(&rec->templates, std::string(kLoaderConfPath));
    say.line("wrote %s (all defaults)", kLoaderConfPath);
    return "";
}

// The new option's number: the one labelled `label` that was not there before.
int new_option(const std::vector<BootOption>& before, const std::vector<BootOption>& after, const std::string& label) {
    for (const BootOption& a : after) {
        bool old = false;
        for (const BootOption& b : before) old |= b.number == a.number;
        if (!old && a.label == label) return a.number;
    }
    return -1;
}

// The option an earlier install registered, if the firmware still has it.
bool option_kept(const std::vector<BootOption>& options, const Record& rec, const std::string& label) {
    for (const BootOption& b : options)
        if (b.number == rec.boot_number && b.label == label) return true;
    return false;
}

// Called with the options listed and the device found before any file was
// written, so a machine we cannot register on is refused untouched.
std::string register_option(const Options& o, const EspDevice& dev, const std::vector<BootOption>& before,
                            Record* rec, Report& say) {
    if (option_kept(before, *rec, o.label)) {
        say.line("kept %s \"%s\"", boot_name(rec->boot_number).c_str(), o.label.c_str());
        return "";
    }
    const auto cmd = create_command(dev, o.label, "\\EFI\\khoboot\\khobootx64.efi", o.first);
    if (say.dry_run) return say.line("run %s", command_line(cmd).c_str()), "";
    if (std::string e = run_efibootmgr(cmd); !e.empty()) return e;
    std::vector<BootOption> after;
    if (std::string e = list_boot_options(&after); !e.empty()) return e;
    rec->boot_number = new_option(before, after, o.label);
    if (rec->boot_number < 0) return "efibootmgr succeeded but no new option labelled '" + o.label + "' appeared";
    say.line("created %s \"%s\" on %s partition %u", boot_name(rec->boot_number).c_str(), o.label.c_str(),
             dev.disk.c_str(), dev.partition);
    return "";
}

// What registering needs, found before anything changes: the options
// now, and the ESP's disk and partition unless an old option is kept.
std::string prepare_nvram(const Options& o, const Record& rec, EspDevice* dev, std::vector<BootOption>* before) {
    if (std::string e = list_boot_options(before); !e.empty()) return e;
    *dev = o.device;
    if (option_kept(*before, rec, o.label) || !dev->disk.empty()) return "";
    return find_esp_device(o.esp, o.sysfs, dev);
}

int run(const Options& o) {
    Report say{"install", o.dry_run};
    if (!is_dir(o.esp)) return say.error("io", o.esp + " is not a directory");
    std::string loader;
    if (std::string e = read_loader(o.loader, &loader); !e.empty()) return say.error("io", e);
    Record rec;
    bool upgrade = false;
    if (std::string e = read_record(o.esp, &rec, &upgrade); !e.empty()) return say.error("record", e);
    EspDevice dev;
    std::vector<BootOption> before;
    if (o.nvram)
        if (std::string e = prepare_nvram(o, rec, &dev, &before); !e.empty()) return say.error("nvram", e);
    if (upgrade) say.line("upgrading the khoboot install recorded in %s", kRecordPath);
    if (std::string e = install_files(o, loader, &rec, say); !e.empty()) return say.error("io", e);
    std::string nvram_error;
    if (o.nvram) nvram_error = register_option(o, dev, before, &rec, say);
    else say.line("no Boot#### option (--no-nvram)");
    // The record is written even when efibootmgr failed: remove must still
    // find the files.
    if (!say.dry_run)
        if (std::string e = write_file_atomic(o.esp + "/" + kRecordPath, format_record(rec)); !e.empty())
            return say.error("io", e);
    return nvram_error.empty() ? 0 : say.error("nvram", nvram_error);
}

}  // namespace

int khotool_install(int argc, char** argv) {
    Options o;
    int rc = parse_options(argc, argv, &o);
    return rc != cli::kRun ? rc : run(o);
}

}  // namespace kho::tools
