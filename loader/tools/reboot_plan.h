// `khotool reboot`: what must hold before the point of no return, decided
// from facts gathered on the running system (reboot.cpp gathers them; this
// file only judges, so every rule is host-tested with made-up facts).
//
// The rules, in the order they are checked (the first failure is the one
// error line; nothing has been changed at that point):
//   kho       KHO is on (kho= on the command line, or debugfs kho/)
//   luo       LUO is on (/dev/liveupdate) when sessions are open or --luo
//   entry     a khoboot Boot#### option exists (boot_options.h)
//   handoff   the handoff image is a bzImage
//   kernel    the next kernel (the boot entry khoboot will start) is a
//             bzImage that can be read
//   abi       the next kernel carries every ABI version the running kernel
//             writes: kho-vN always; luo-vN and memfd-vN when sessions are
//             open or --luo (the compatibility check before the point of
//             no return: a kernel without them would drop the state)
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace kho::tools::reboot {

struct Facts {
    bool kho_on = false;
    std::string kho_how;           // "kho=on on the command line", ...
    bool luo_on = false;           // /dev/liveupdate exists
    unsigned luo_sessions = 0;     // open "[luo_session]" files
    bool want_luo = false;         // --luo
    std::optional<uint16_t> entry; // the khoboot Boot#### option
    std::string entry_why, entry_error;
    std::string handoff_path, handoff_error;
    std::string boot_entry_id;     // khoboot entry (loader/entries/ID.conf), "" with --kernel
    std::string kernel_path, kernel_error;
    // ABI versions ("kho-v4", ...) the running kernel writes and the next
    // kernel reads; running_known false when the running image was not found.
    bool running_known = false;
    std::string running_source;    // where they came from
    std::string running_error;
    std::vector<std::string> running_abi, next_abi;
};

struct Verdict {
    bool ok = true;
    std::string kind;     // khotool's error kind ("kho-off", "no-entry", ...)
    std::string message;
};

Verdict check(const Facts& f);

// The ABI prefixes checked for this reboot: kho-v, plus luo-v and memfd-v
// when LUO sessions will be carried.
std::vector<std::string> abi_prefixes(const Facts& f);

}  // namespace kho::tools::reboot
