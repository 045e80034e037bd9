// systemd's Boot Loader Interface in the boot flow (boot_flow.h): what the
// OS asked for (LoaderEntryOneShot, LoaderEntryDefault) before the entry is
// chosen, and the variables that report the boot at its end. The bytes and
// the choice come from boot_loader_interface.h.
#include "boot_flow.h"
#include "boot_loader_interface.h"
#include "format.h"

#include <string.h>

namespace kho {

namespace {

constexpr size_t kDevicePathMax = 4096;  // a bound for the walk, not a limit of UEFI

}  // namespace

// One string variable of the OS's into `out`; false when absent or bad.
// A volatile one is a boot loader's report of this boot (khoboot's own
// LoaderEntryDefault, seen by a loader the boot manager starts after an
// exit), not a setting of the OS's: ignored.
static bool read_os_string(Firmware& fw, BootFlow& flow, const char* name, char* out, size_t capacity) {
    uint8_t raw[2 * BootEntry::kIdSize + 2];
    size_t len = 0;
    bool found = false, non_volatile = false;
    Status s = fw.read_loader_variable(name, raw, sizeof(raw), &len, &found, &non_volatile);
    if (found && s && !non_volatile) return false;
    if (found && s) s = bli::ascii_from_utf16(raw, len, out, capacity);
    if (found && !s) flow.log("warn %s ignored: %s", name, s.message());
    return found && s && out[0];
}

// LoaderEntryOneShot is deleted as soon as it is read, whatever becomes of
// the boot, so that an entry that fails is not chosen again at the next
// boot. LoaderEntryDefault stays: the OS owns it.
void BootFlow::read_os_choice(const char* const* ids, size_t count) {
    bool one_shot = read_os_string(fw_, *this, bli::kEntryOneShot, one_shot_id_, sizeof(one_shot_id_));
    if (one_shot) {
        // systemd-boot's type #1 ids end in ".conf" (what `bootctl
        // set-oneshot` is given); khoboot's do not.
        size_t n = strlen(one_shot_id_);
        if (n > 5 && strcmp(one_shot_id_ + n - 5, ".conf") == 0) one_shot_id_[n - 5] = '\0';
        Status s = fw_.delete_loader_variable(bli::kEntryOneShot);
        if (!s) log("warn %s not deleted: %s", bli::kEntryOneShot, s.message());
    }
    os_default_set_ = read_os_string(fw_, *this, bli::kEntryDefault, os_default_id_, sizeof(os_default_id_));
    bli::EntrySource src = bli::choose_entry_source(c_.load_options.entry_id, one_shot ? one_shot_id_ : nullptr,
                                                    os_default_set_ ? os_default_id_ : nullptr, ids, count);
    if (one_shot && src != bli::EntrySource::OneShot && src != bli::EntrySource::LoadOptions)
        log("warn %s '%s' names no entry: ignored", bli::kEntryOneShot, one_shot_id_);
    bool os_default_names = os_default_set_ && bli::choose_entry_source(nullptr, nullptr, os_default_id_, ids,
                                                                         count) == bli::EntrySource::OsDefault;
    // "@saved" (bootctl set-default @saved) is no id: read_saved_entry() acts on it.
    bool os_saved = os_default_set_ && strcmp(os_default_id_, "@saved") == 0;
    if (os_default_set_ && !os_default_names && !os_saved)
        log("warn %s '%s' names no entry: ignored", bli::kEntryDefault, os_default_id_);
    one_shot_ = src == bli::EntrySource::OneShot;
    // The OS's default replaces loader.conf's for the menu and for the
    // default reported, whichever source chose this boot.
    if (os_default_names)
        format(c_.conf.default_pattern, sizeof(c_.conf.default_pattern), "%s", os_default_id_);
    log("entry-source %s", bli::entry_source_name(src));
}

void BootFlow::write_bli_bytes(const char* name, const void* data, size_t len, size_t* failed) {
    Status s = fw_.write_loader_variable(name, data, len);
    if (!s) {
        if (!*failed) log("warn %s not written: %s", name, s.message());
        ++*failed;
    }
}

void BootFlow::write_bli_string(const char* name, const char* value, size_t* failed) {
    uint8_t buf[2 * BootEntry::kIdSize + 2];
    size_t len = 0;
    Status s = bli::utf16_string(value, buf, sizeof(buf), &len);
    if (s) write_bli_bytes(name, buf, len, failed);
    else if (!(*failed)++) log("warn %s not written: %s", name, s.message());
}

// The report of this boot (systemd docs/BOOT_LOADER_INTERFACE.md), written
// at its end so that LoaderTimeExecUSec is the time just before the jump.
void BootFlow::export_loader_interface() {
    size_t failed = 0;
    char text[256];
    format(text, sizeof(text), "khoboot %s", facts_.loader_version ? facts_.loader_version : "dev");
    write_bli_string(bli::kLoaderInfo, text, &failed);
    char vendor[128];
    if (!facts_.firmware_vendor ||
        !bli::ascii_from_utf16(reinterpret_cast<const uint8_t*>(facts_.firmware_vendor), sizeof(vendor) * 2,
                               vendor, sizeof(vendor)))
        vendor[0] = '\0';
    bli::firmware_info(vendor, facts_.firmware_revision, text, sizeof(text));
    write_bli_string(bli::kFirmwareInfo, text, &failed);
    bli::firmware_type(facts_.uefi_revision, text, sizeof(text));
    write_bli_string(bli::kFirmwareType, text, &failed);
    format(text, sizeof(text), "%llu", (unsigned long long)facts_.init_us);
    write_bli_string(bli::kTimeInit, text, &failed);
    format(text, sizeof(text), "%llu", (unsigned long long)(facts_.init_us + fw_.us_since_entry()));
    write_bli_string(bli::kTimeExec, text, &failed);
    if (entry_count_) {
        // Sized from the ids: each as UTF-16 with its NUL.
        size_t bytes = 0;
        for (size_t i = 0; i < entry_count_; i++) bytes += 2 * (strlen(ids_[i]) + 1);
        void* list = nullptr;
        size_t len = 0;
        Status s = arena_.reserve(bytes, &list);
        if (s) s = bli::entries_list(ids_, entry_count_, static_cast<uint8_t*>(list), bytes, &len);
        if (s) write_bli_bytes(bli::kEntries, list, len, &failed);
        else if (!failed++) log("warn %s not written: %s", bli::kEntries, s.message());
    }
    save_entry();
    if (entry_ready_) write_bli_string(bli::kEntrySelected, c_.entry.id, &failed);
    // Only when the OS has not set it: the OS's variable is its own (and
    // non-volatile), ours is this boot's report.
    if (default_index_ >= 0 && !os_default_set_)
        write_bli_string(bli::kEntryDefault, ids_[default_index_], &failed);
    uint8_t guid[16];
    if (facts_.device_path && bli::device_path_partition_guid(facts_.device_path, kDevicePathMax, guid)) {
        bli::guid_string(guid, text, sizeof(text));
        write_bli_string(bli::kDevicePartUuid, text, &failed);
    }
    if (facts_.image_path && bli::device_path_file(facts_.image_path, kDevicePathMax, text, sizeof(text)))
        write_bli_string(bli::kImageIdentifier, text, &failed);
    uint8_t features[8];
    for (int i = 0; i < 8; i++) features[i] = uint8_t(bli::kFeatures >> (8 * i));
    write_bli_bytes(bli::kFeaturesVariable, features, sizeof(features), &failed);
    if (failed) log("warn boot-loader-interface variables not written=%zu", failed);
}

}  // namespace kho
