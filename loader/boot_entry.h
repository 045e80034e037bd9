// Boot entries in Boot Loader Specification form (uapi-group.org
// specifications/boot_loader_specification, "Type #1"): /loader/loader.conf
// and /loader/entries/*.conf, "key value" lines, '#' comments, extended
// with khoboot's KHO keys. Also the application's load options, which may
// name an entry and override keys. Hostile input: every error names the
// file and line; unknown keys are warnings.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "../abi/kho_scratch.h"
#include "consoles.h"
#include "ram_probe.h"
#include "status.h"

namespace kho {

enum class KhoMode : uint8_t {
    Auto,      // hand over when a valid state is found, else cold boot
    Off,       // never hand over (a cold boot even if a state exists)
    Required,  // never boot without a valid handover
};
enum class KhoOnError : uint8_t { ColdBoot, Halt };
// `kho-verify`: how much of the producer's integrity manifest to check
// before a handover (loader/state_verify.h). Auto checks the metadata
// entries when the state has a manifest and nothing when it has none; an
// explicit metadata or full refuses a state without a manifest.
enum class KhoVerify : uint8_t { Auto, Off, Metadata, Full };

const char* kho_mode_name(KhoMode m);
const char* kho_on_error_name(KhoOnError p);
const char* kho_verify_name(KhoVerify v);

struct BootEntry {
    // An id is a file name: FAT long names are at most 255 characters
    // (Microsoft FAT specification, "FAT Long Directory Entries"), so no
    // name a directory can hold is cut.
    static constexpr size_t kIdSize = 256;
    static constexpr size_t kTitleSize = 256;
    static constexpr size_t kPathSize = 512;
    static constexpr size_t kOptionsSize = 2048;
    static constexpr size_t kMaxInitrds = 8;
    static constexpr size_t kMaxScratch = 16;

    char id[kIdSize];  // file name without ".conf" (type #1) or with ".efi" (type #2)
    char title[kTitleSize];
    // BLS metadata: the menu's order and the titles shown (entry_list.h).
    char version[kTitleSize];
    char machine_id[kTitleSize];
    char sort_key[kTitleSize];
    // `architecture` names another machine than x64: systemd-boot leaves
    // such an entry out of its list, and so does khoboot.
    // BLS `architecture`, lower-cased ("x64", "aa64"); "" when absent. An
    // entry for another architecture than the loader's is not listed.
    char architecture[8];
    char linux_path[kPathSize];  // ESP-relative, '/' separated
    // `uki` (or a type #2 entry in /EFI/Linux): the kernel, an initrd and
    // the command line come from this unified kernel image (uki.h).
    char uki[kPathSize];
    // Where the kernel lies in linux_path: the whole file (size 0) or a
    // UKI's .linux section.
    uint64_t linux_offset, linux_size;
    // A UKI's .initrd section (size 0: none), loaded before the initrd
    // lines' files, as systemd-stub puts it first.
    uint64_t uki_initrd_offset, uki_initrd_size;
    size_t initrd_count;
    char initrd[kMaxInitrds][kPathSize];
    char options[kOptionsSize];
    KhoMode kho;
    KhoOnError kho_on_error;
    KhoVerify kho_verify;
    // Static setup (kho-fdt / kho-scratch): the state's root FDT and scratch
    // regions, when no handover descriptor variable is used.
    uint64_t kho_fdt;
    size_t kho_scratch_count;
    abi::KhoScratch kho_scratch[kMaxScratch];
};

// loader.conf's `timeout` (systemd loader.conf(5)): seconds, or one of
// systemd-boot's words. menu-force shows the menu and waits for a key
// without a countdown; menu-hidden and menu-disabled boot the default at
// once (khoboot has no hotkey to summon a hidden menu).
enum class TimeoutMode : uint8_t { Seconds, MenuForce, MenuHidden, MenuDisabled };
const char* timeout_mode_name(TimeoutMode m);

struct LoaderConf {
    static constexpr size_t kPatternSize = BootEntry::kIdSize + 8;
    char default_pattern[kPatternSize];  // glob on the entry id ('*', '?')
    // `default @saved`: the entry booted last (LoaderEntryLastBooted) is
    // the default, and each boot saves its entry there.
    bool default_saved;
    uint32_t timeout_seconds;
    TimeoutMode timeout_mode;
    // `khoboot-uart`: a UART khoboot writes its lines to besides COM1
    // (loader/consoles.h has the syntax); kind None when not given.
    UartConfig uart;
    // `khoboot-probe off|once`: the RAM-retention probe (loader/ram_probe.h).
    ProbeMode probe;
};

// Receives non-fatal diagnostics (unknown or ignored keys).
class ConfigWarnings {
public:
    virtual ~ConfigWarnings() = default;
    virtual void warn(const char* file, unsigned line, const char* message) = 0;
};

void init_boot_entry(BootEntry* entry, const char* id);

// `file` is the name used in messages. Text need not be NUL-terminated.
Status parse_loader_conf(const char* file, const char* text, size_t len, LoaderConf* out,
                         ConfigWarnings* warnings);
// `out` must come from init_boot_entry(). Fails on an entry with neither
// `linux` nor `uki`.
Status parse_boot_entry(const char* file, const char* text, size_t len, BootEntry* out,
                        ConfigWarnings* warnings);

// The application's load options, as ASCII: words separated by blanks,
// `key=value` or `key="value with blanks"` override entry keys, one bare
// word names the entry (its id, with or without ".conf"). A leading word
// ending in ".efi" (the image path shells and some boot managers put
// first) is skipped.
struct LoadOptions {
    static constexpr size_t kMaxOverrides = 16;
    static constexpr size_t kKeySize = 32;
    struct Override {
        char key[kKeySize];
        char value[BootEntry::kOptionsSize];
    };
    char entry_id[BootEntry::kIdSize];
    size_t override_count;
    Override overrides[kMaxOverrides];
};
Status parse_load_options(const char* text, size_t len, LoadOptions* out);
// Applies the overrides: list keys (initrd, kho-scratch) are replaced, not
// extended. Errors name "load-options".
Status apply_load_options(const LoadOptions& options, BootEntry* entry, ConfigWarnings* warnings);

// The load options as UEFI passes them (UCS-2, LoadOptionsSize bytes) to
// ASCII in `out`. False when they are not text (boot managers may pass
// binary OptionalData): such options are ignored, not parsed.
bool load_options_to_ascii(const uint16_t* ucs2, size_t bytes, char* out, size_t out_size);

// What a boot does with a KHO state under an entry's policy. `found`: a
// descriptor or the entry's static keys named a state; `usable`: it
// validated, was protected and everything fits.
enum class KhoAction : uint8_t { Handover, ColdBoot, Halt };
KhoAction decide_kho_action(KhoMode mode, KhoOnError on_error, bool found, bool usable);
const char* kho_action_name(KhoAction a);

// The boot menu shown while loader.conf's timeout runs: '1'..'9' pick an
// entry by its position in the list; false for any other key (which stops
// the countdown and boots the default).
bool menu_choice(uint16_t key, size_t count, size_t* index);

// Glob match used for `default` ('*' any run, '?' any one character).
bool glob_match(const char* pattern, const char* text);

// Index of the entry to boot among `ids` (sorted as the caller lists
// them): the one named by `requested` if non-empty, else the first that
// matches conf.default_pattern, else 0. Err::BadEntry when nothing matches
// a request or when there are no entries.
Status select_entry(const LoaderConf& conf, const char* const* ids, size_t count,
                    const char* requested, size_t* index);

}  // namespace kho
