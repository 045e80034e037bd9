// Step 2 of a boot (boot_flow.h): the boot entry, from loader.conf, the
// entries directory and the image's load options.
#include "boot_flow.h"

#include "format.h"

namespace kho {

namespace {

constexpr uint64_t kWatchdogSeconds = 300;
constexpr char kLoaderConf[] = "/loader/loader.conf";
constexpr char kEntriesDir[] = "/loader/entries";

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

// loader.conf's timeout: list the entries and wait for a digit. Polls the
// keyboard with a stall rather than timer events (no pool allocation of
// the loader's own). The watchdog stays armed while the menu waits, as
// systemd-boot leaves it.
size_t BootFlow::menu(const char* const* ids, size_t count, size_t def) {
    for (size_t i = 0; i < count && i < 9; i++)
        log("menu %zu %s%s", i + 1, ids[i], i == def ? " (default)" : "");
    arm_watchdog(c_.conf.timeout_seconds + kWatchdogSeconds, "menu");
    for (uint64_t ms = 0; ms < uint64_t(c_.conf.timeout_seconds) * 1000; ms += 10) {
        uint16_t ch;
        if (fw_.read_key(&ch)) {
            size_t chosen;
            if (menu_choice(ch, count, &chosen)) {
                log("menu chose %s", ids[chosen]);
                return chosen;
            }
            break;
        }
        fw_.stall_us(10000);
    }
    return def;
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
    size_t count = 0;
    KHO_TRY(fw_.list_conf(kEntriesDir, c_.ids, BootContext::kMaxEntries, &count));
    const char* ids[BootContext::kMaxEntries];
    for (size_t i = 0; i < count; i++) ids[i] = c_.ids[i];
    entry_count_ = count;
    // LoaderEntryDefault (the OS's) replaces loader.conf's default; the
    // default computed from them is what LoaderEntryDefault reports.
    read_os_choice(ids, count);
    size_t index = 0;
    if (select_entry(c_.conf, ids, count, nullptr, &index)) default_index_ = int(index);
    // A one-shot entry boots once without the menu, as systemd-boot does.
    const char* requested = c_.load_options.entry_id[0] ? c_.load_options.entry_id
                            : one_shot_                 ? one_shot_id_
                                                        : nullptr;
    KHO_TRY(select_entry(c_.conf, ids, count, requested, &index));
    if (c_.conf.timeout_seconds && !requested) index = menu(ids, count, index);

    char path[128];
    format(path, sizeof(path), "%s/%s.conf", kEntriesDir, ids[index]);
    KHO_TRY(read_small(fw_, path, c_.text, sizeof(c_.text), &len));
    init_boot_entry(&c_.entry, ids[index]);
    KHO_TRY(parse_boot_entry(path, c_.text, len, &c_.entry, &warnings_));
    KHO_TRY(apply_load_options(c_.load_options, &c_.entry, &warnings_));
    entry_ready_ = true;
    log("entry id=%s entries=%zu kho=%s kho-on-error=%s kho-verify=%s timeout=%u", c_.entry.id, count,
        kho_mode_name(c_.entry.kho), kho_on_error_name(c_.entry.kho_on_error),
        kho_verify_name(c_.entry.kho_verify), c_.conf.timeout_seconds);
    return Status::ok();
}

}  // namespace kho
