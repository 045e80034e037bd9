// The boot menu's entries: type #1 files in /loader/entries and type #2
// unified kernel images in /EFI/Linux, in the order systemd-boot 252 shows
// them and with the titles it shows (Boot Loader Specification, "Sorting";
// systemd src/boot/efi/boot.c config_entry_compare, config_title_generate).
// No fixed capacity: the strings live in a TextArena that grows from the
// firmware's pool, which step 2 of a boot may use (the state is protected
// by then, boot_flow.h).
#pragma once
#include <stddef.h>

#include "firmware.h"
#include "status.h"

namespace kho {

// Bump storage for strings, in pool chunks of at least 16 KiB; nothing is
// freed (what the menu needs lives until the kernel runs).
class TextArena {
public:
    explicit TextArena(Firmware& fw) : fw_(fw) {}
    // A NUL-terminated copy of [s, s + n).
    Status copy(const char* s, size_t n, const char** out);
    // `bytes` of 8-aligned storage.
    Status reserve(size_t bytes, void** out);

private:
    Firmware& fw_;
    char* chunk_ = nullptr;
    size_t used_ = 0, size_ = 0;
};

struct MenuEntry {
    const char* id = nullptr;          // "<name>" of <name>.conf, or "<name>.efi"
    const char* title = nullptr;       // null: none
    const char* version = nullptr;
    const char* machine_id = nullptr;
    const char* sort_key = nullptr;
    const char* title_show = nullptr;  // what the menu shows (make_titles)
    bool uki = false;                  // a type #2 entry in /EFI/Linux
};

// systemd-boot 252's order: entries with a sort-key first, among them by
// sort-key, then machine-id (byte order), then version newest first
// (version_compare.h); then everything by id, newest version first.
int bls_compare(const MenuEntry& a, const MenuEntry& b);
// Stable, in place: O(n²) compares, fine for the hundreds a directory holds.
void bls_sort(MenuEntry* entries, size_t count);

// The menu's titles as systemd-boot makes them: the title (else the id);
// titles still shared by several entries get " (<version>)", then
// " (<first 8 of machine-id>)", then " (<id>)" appended, each only where
// the entry has that field.
Status make_titles(MenuEntry* entries, size_t count, TextArena& arena);

}  // namespace kho
