// Which kernel khoboot will start after `khotool reboot`: the boot entry
// (loader/entries/ID.conf on the ESP) named with --boot-entry, else the one
// khoboot picks by default (loader.conf `default`, through the loader's own
// parser and select_entry()). khotool then names it in LoaderEntryOneShot,
// so the entry it checked is the entry khoboot boots.
#pragma once
#include <string>

namespace kho::tools::reboot {

struct NextKernel {
    std::string esp;        // the ESP's mount point
    std::string entry_id;   // loader/entries/<entry_id>.conf
    std::string kernel;     // the kernel file under the ESP
};

// `esp` "" means the first of /efi, /boot/efi, /boot holding
// loader/entries. "" or the error.
std::string find_next_kernel(const std::string& esp, const std::string& requested, NextKernel* out);

}  // namespace kho::tools::reboot
