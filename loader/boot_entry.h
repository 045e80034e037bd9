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
    static constexpr size_t kIdSize = 64;
    static constexpr size_t kTitleSize = 128;
    static constexpr size_t kPathSize = 256;
    static constexpr size_t kOptionsSize = 2048;
    static constexpr size_t kMaxInitrds = 8;
    static constexpr size_t kMaxScratch = 16;

    char id[kIdSize];  // file name without ".conf"
    char title[kTitleSize];
    char linux_path[kPathSize];  // ESP-relative, '/' separated
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

struct LoaderConf {
    static constexpr size_t kPatternSize = 64;
    char default_pattern[kPatternSize];  // glob on the entry id ('*', '?')
    uint32_t timeout_seconds;
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
// `out` must come from init_boot_entry(). Fails on a missing `linux` line.
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
