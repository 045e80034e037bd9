// `khotool remove`: undoes what the install record lists (install.h).
#include <cstdio>
#include <string>

#include "boot_option.h"
#include "cli.h"
#include "esp_files.h"
#include "install.h"
#include "install_record.h"
#include "install_report.h"

namespace kho::tools {
namespace {

using namespace install;

const char kUsage[] =
    "usage: khotool remove [--esp DIR] [--no-nvram] [--dry-run]\n"
    "\n"
    "Undoes 'khotool install': deletes the Boot#### option and the files listed\n"
    "in DIR/EFI/khoboot/install-record, loader/loader.conf only if it is still\n"
    "the one install wrote, and the directories install created if they are\n"
    "empty. Nothing else on the ESP is touched.\n"
    "\n"
    "  --esp DIR              the ESP's mount point (default: the first of /boot/efi,\n"
    "                         /efi, /boot that holds an install record)\n"
    "  --no-nvram             leave the Boot#### option in place\n"
    "  --dry-run              print what would be done, change nothing\n"
    "  -h, --help             this text\n";

struct Options {
    std::string esp;
    bool nvram = true, dry_run = false;
};

enum LongOnly { kEsp = 0x100, kNoNvram, kDryRun };

int parse_options(int argc, char** argv, Options* o) {
    static const option kLong[] = {
        {"esp", required_argument, nullptr, kEsp},
        {"no-nvram", no_argument, nullptr, kNoNvram},
        {"dry-run", no_argument, nullptr, kDryRun},
        {nullptr, 0, nullptr, 0},
    };
    return cli::parse({"remove", kUsage, kLong}, argc, argv, [o](int id, const std::string& v) {
        if (id == kEsp) o->esp = v;
        if (id == kNoNvram) o->nvram = false;
        if (id == kDryRun) o->dry_run = true;
        return std::string();
    });
}

// bootctl's search order for the ESP (systemd's find-esp.c): /efi, /boot,
// /boot/efi; /boot/efi first here, Debian's usual mount point.
std::string find_esp() {
    for (const char* d : {"/boot/efi", "/efi", "/boot"})
        if (exists(std::string(d) + "/" + kRecordPath)) return d;
    return "";
}

std::string remove_option(const Options& o, const Record& rec, const Report& say) {
    if (rec.boot_number < 0) return "";
    const std::string name = boot_name(rec.boot_number);
    if (!o.nvram) return say.line("left %s in place (--no-nvram)", name.c_str()), "";
    std::vector<BootOption> options;
    if (std::string e = list_boot_options(&options); !e.empty()) return e;
    bool present = false;
    for (const BootOption& b : options) present |= b.number == rec.boot_number;
    if (!present) return say.line("%s is already gone", name.c_str()), "";
    const auto cmd = delete_command(rec.boot_number);
    if (!say.dry_run)
        if (std::string e = run_efibootmgr(cmd); !e.empty()) return e;
    say.line("deleted %s", name.c_str());
    return "";
}

std::string remove_files(const Options& o, const Record& rec, const Report& say) {
    for (const std::string& f : rec.files) {
        if (std::string e = say.dry_run ? "" : remove_file(o.esp + "/" + f); !e.empty()) return e;
        say.line("removed %s", f.c_str());
    }
    for (const std::string& t : rec.templates) {
        std::string now;
        if (!exists(o.esp + "/" + t)) continue;
        if (!read_file(o.esp + "/" + t, &now).empty() || now != kLoaderConfTemplate) {
            say.line("kept %s (changed since install)", t.c_str());
            continue;
        }
        if (std::string e = say.dry_run ? "" : remove_file(o.esp + "/" + t); !e.empty()) return e;
        say.line("removed %s", t.c_str());
    }
    if (std::string e = say.dry_run ? "" : remove_file(o.esp + "/" + kRecordPath); !e.empty()) return e;
    // Innermost first; a directory something else now uses stays.
    for (auto d = rec.dirs.rbegin(); d != rec.dirs.rend(); ++d) {
        if (say.dry_run) continue;
        if (std::string e = remove_dir_if_empty(o.esp + "/" + *d); !e.empty()) return e;
        if (!exists(o.esp + "/" + *d)) say.line("removed directory %s", d->c_str());
    }
    return "";
}

int run(Options o) {
    Report say{"remove", o.dry_run};
    if (o.esp.empty()) o.esp = find_esp();
    if (o.esp.empty()) return say.error("io", "no khoboot install record under /boot/efi, /efi or /boot; give --esp");
    const std::string path = o.esp + "/" + kRecordPath;
    if (!exists(path)) return say.error("io", "no khoboot install record at " + path + ": nothing to remove");
    std::string text;
    Record rec;
    std::string e = read_file(path, &text);
    if (e.empty()) e = parse_record(text, &rec);
    if (!e.empty()) return say.error("record", path + ": " + e);
    // The option first: firmware must never be left pointing at a deleted file.
    if (e = remove_option(o, rec, say); !e.empty()) return say.error("nvram", e);
    if (e = remove_files(o, rec, say); !e.empty()) return say.error("io", e);
    return 0;
}

}  // namespace

int khotool_remove(int argc, char** argv) {
    Options o;
    int rc = parse_options(argc, argv, &o);
    return rc != cli::kRun ? rc : run(o);
}

}  // namespace kho::tools
