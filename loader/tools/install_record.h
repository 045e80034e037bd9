// What `khotool install` did to an ESP, kept on the ESP itself
// (EFI/khoboot/install-record) so `khotool remove` undoes exactly that and
// nothing else, and a second install upgrades in place. A text file, one
// fact per line:
//
//   khoboot-install 1
//   dir EFI/khoboot            a directory install created (removed if empty)
//   file EFI/khoboot/khobootx64.efi   a file install owns (removed)
//   template loader/loader.conf       written by install because none existed;
//                                     removed only if still byte-identical
//   boot 0003                  the Boot#### option install registered
//
// Paths are relative to the ESP and checked on reading: a record that
// names "..", an absolute path or an odd character is refused, so an
// edited record cannot make remove delete anything outside the ESP.
#pragma once
#include <string>
#include <vector>

namespace kho::tools::install {

inline constexpr char kRecordPath[] = "EFI/khoboot/install-record";
inline constexpr char kLoaderPath[] = "EFI/khoboot/khobootx64.efi";
inline constexpr char kLoaderConfPath[] = "loader/loader.conf";
// The loader.conf install writes when the ESP has none: every line a
// comment, so khoboot (and systemd-boot, if it comes later) use their
// defaults; bootctl install writes the same kind of file.
inline constexpr char kLoaderConfTemplate[] =
    "# loader.conf written by khotool install (khoboot); systemd-boot reads it too.\n"
    "# Keys: loader.conf(5). khotool remove deletes this file only if unchanged.\n"
    "#timeout 3\n"
    "#default @saved\n";

struct Record {
    std::vector<std::string> dirs;       // in creation order
    std::vector<std::string> files;
    std::vector<std::string> templates;  // only kLoaderConfPath today
    int boot_number = -1;                // -1: no Boot#### option
};

std::string format_record(const Record& r);
// "" or what is wrong, naming the line.
std::string parse_record(const std::string& text, Record* out);
// A path a record may name (relative, no "..", [A-Za-z0-9._/-] only).
bool safe_relative_path(const std::string& path);

}  // namespace kho::tools::install
