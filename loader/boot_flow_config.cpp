// Step 2 of a boot (boot_flow.h): the boot entry, from loader.conf, the
// entries directory and the image's load options.
#include "boot_flow.h"

#include <string.h>

#include "boot_loader_interface.h"
#include "format.h"

namespace kho {

namespace {

constexpr uint64_t kWatchdogSeconds = 300;
constexpr char kLoaderConf[] = "/loader/loader.conf";

size_t text_length(const char* s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

// A whole small file into `buf`, NUL-terminated.
Status read_small(Firmware& fw, const char* path, char* buf, size_t capacity, size_t* len) {
    uint64_t size = 0;
    KHO_TRY(fw.file_size(path, &size));
    if (size >= capacity)
        return Status::error(Err::Io, "%s: %llu bytes, more than the %zu allowed", path,
                             (unsigned long long)size, capacity - 1);
    KHO_TRY(fw.read_file(path, 0, buf, size));
    buf[size] = '\0';
    *len = size_t(size);
    return Status::ok();
}

}  // namespace

// loader.conf's timeout: list the entries by their titles and wait for a
// digit. Polls the keyboard with a stall rather than timer events (no pool
// allocation of the loader's own). The watchdog stays armed while a
// countdown runs, as systemd-boot leaves it; `timeout menu-force` waits
// for a key as long as it takes, so the watchdog is off meanwhile.
size_t BootFlow::menu(size_t def) {
    for (size_t i = 0; i < entry_count_ && i < 9; i++)
        log("menu %zu %s%s", i + 1, entries_[i].title_show, i == def ? " (default)" : "");
    bool forever = c_.conf.timeout_mode == TimeoutMode::MenuForce;
    if (forever) arm_watchdog(0, "menu");
    else arm_watchdog(c_.conf.timeout_seconds + kWatchdogSeconds, "menu");
    size_t chosen = def;
    for (uint64_t ms = 0; forever || ms < uint64_t(c_.conf.timeout_seconds) * 1000; ms += 10) {
        uint16_t ch;
        if (fw_.read_key(&ch)) {
            if (menu_choice(ch, entry_count_, &chosen)) log("menu chose %s", ids_[chosen]);
            else chosen = def;
            break;
        }
        fw_.stall_us(10000);
    }
    if (forever) arm_watchdog(kWatchdogSeconds, "boot");
    return chosen;
}

// `default @saved` (loader.conf, or LoaderEntryDefault "@saved" set by
// `bootctl set-default @saved`): the entry booted last, which
// systemd-boot keeps in the non-volatile LoaderEntryLastBooted, is the
// default. systemd-boot's ids end in ".conf"; khoboot's type #1 ids do
// not: either names the entry.
void BootFlow::read_saved_entry() {
    saved_default_ = c_.conf.default_saved || (os_default_set_ && strcmp(os_default_id_, "@saved") == 0);
    if (!saved_default_) return;
    uint8_t raw[2 * BootEntry::kIdSize];
    size_t len = 0;
    bool found = false, non_volatile = false;
    Status s = fw_.read_loader_variable(bli::kEntryLastBooted, raw, sizeof(raw), &len, &found, &non_volatile);
    if (found && s) s = bli::ascii_from_utf16(raw, len, saved_id_, sizeof(saved_id_));
    if (found && !s) log("warn %s ignored: %s", bli::kEntryLastBooted, s.message());
    if (!found || !s) saved_id_[0] = '\0';
    size_t n = strlen(saved_id_);
    if (n > 5 && strcmp(saved_id_ + n - 5, ".conf") == 0) saved_id_[n - 5] = '\0';
    c_.conf.default_pattern[0] = '\0';
    for (size_t i = 0; saved_id_[0] && i < entry_count_; i++)
        if (strcmp(ids_[i], saved_id_) == 0)
            format(c_.conf.default_pattern, sizeof(c_.conf.default_pattern), "%s", saved_id_);
    if (saved_id_[0] && !c_.conf.default_pattern[0])
        log("warn %s '%s' names no entry: the first entry is the default", bli::kEntryLastBooted, saved_id_);
    log("default @saved entry=%s", c_.conf.default_pattern[0] ? c_.conf.default_pattern : "(first)");
}

// Under `default @saved`, this boot's entry becomes the next default;
// written only when it changes, to spare the flash.
void BootFlow::save_entry() {
    if (!saved_default_ || !entry_ready_ || strcmp(saved_id_, c_.entry.id) == 0) return;
    uint8_t buf[2 * BootEntry::kIdSize + 2];
    size_t len = 0;
    Status s = bli::utf16_string(c_.entry.id, buf, sizeof(buf), &len);
    if (s) s = fw_.write_loader_variable(bli::kEntryLastBooted, buf, len, true);
    if (!s) log("warn %s not written: %s", bli::kEntryLastBooted, s.message());
}

Status BootFlow::read_config() {
    KHO_TRY(fw_.open_esp());
    const char* options = facts_.load_options;
    if (!options) {
        log("warn load-options: not text, ignored");
        options = "";
    }
    KHO_TRY(parse_load_options(options, text_length(options), &c_.load_options));

    __builtin_memset(&c_.conf, 0, sizeof(c_.conf));
    uint64_t size = 0;
    size_t len = 0;
    if (fw_.file_size(kLoaderConf, &size)) {
        KHO_TRY(read_small(fw_, kLoaderConf, c_.text, sizeof(c_.text), &len));
        KHO_TRY(parse_loader_conf(kLoaderConf, c_.text, len, &c_.conf, &warnings_));
    }
    fw_.set_log_uart(c_.conf.uart);
    KHO_TRY(collect_entries());
    const size_t count = entry_count_;
    // LoaderEntryDefault (the OS's) replaces loader.conf's default; the
    // default computed from them is what LoaderEntryDefault reports.
    read_os_choice(ids_, count);
    read_saved_entry();
    size_t index = 0;
    if (select_entry(c_.conf, ids_, count, nullptr, &index)) default_index_ = int(index);
    // A one-shot entry boots once without the menu, as systemd-boot does.
    const char* requested = c_.load_options.entry_id[0] ? c_.load_options.entry_id
                            : one_shot_                 ? one_shot_id_
                                                        : nullptr;
    KHO_TRY(select_entry(c_.conf, ids_, count, requested, &index));
    bool show_menu = c_.conf.timeout_mode == TimeoutMode::MenuForce ||
                     (c_.conf.timeout_mode == TimeoutMode::Seconds && c_.conf.timeout_seconds);
    if (show_menu && !requested) index = menu(index);

    KHO_TRY(open_entry(index));
    KHO_TRY(apply_load_options(c_.load_options, &c_.entry, &warnings_));
    KHO_TRY(resolve_uki());
    entry_ready_ = true;
    log("entry id=%s entries=%zu kho=%s kho-on-error=%s kho-verify=%s timeout=%u", c_.entry.id, count,
        kho_mode_name(c_.entry.kho), kho_on_error_name(c_.entry.kho_on_error),
        kho_verify_name(c_.entry.kho_verify), c_.conf.timeout_seconds);
    log("entry-title %s", entries_[index].title_show);
    return Status::ok();
}

}  // namespace kho
