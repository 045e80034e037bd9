// Step 2 of a boot (boot_flow.h), its first half: the menu's entries.
// Every type #1 file in /loader/entries is read for its title, version,
// machine-id and sort-key, every UKI in /EFI/Linux for its .osrel, and
// the list is put in systemd-boot's order (entry_list.h). The entry chosen
// is then read again in full, with its warnings (boot_flow_config.cpp).
#include "boot_flow.h"
#include "format.h"
#include "uki.h"

namespace kho {

namespace {

constexpr char kEntriesDir[] = "/loader/entries";
constexpr char kUkiDir[] = "/EFI/Linux";
constexpr char kConf[] = ".conf";
constexpr char kEfi[] = ".efi";

template <typename Fn>
class Visitor : public DirVisitor {
public:
    explicit Visitor(Fn fn) : fn_(fn) {}
    Status name(const char* n, size_t len) override { return fn_(n, len); }

private:
    Fn fn_;
};
template <typename Fn>
Visitor<Fn> visitor(Fn fn) { return Visitor<Fn>(fn); }

size_t text_length(const char* s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

// A whole file that must fit `capacity` - 1 bytes, NUL-terminated.
Status read_text(Firmware& fw, const char* path, uint64_t offset, uint64_t size, char* buf,
                 size_t capacity) {
    if (size >= capacity)
        return Status::error(Err::Io, "%s: %llu bytes, more than the %zu allowed", path,
                             (unsigned long long)size, capacity - 1);
    KHO_TRY(fw.read_file(path, offset, buf, size));
    buf[size] = '\0';
    return Status::ok();
}

}  // namespace

Status BootFlow::add_entry(const MenuEntry& e) {
    if (entry_count_ == entry_capacity_) {
        size_t cap = entry_capacity_ ? 2 * entry_capacity_ : 32;
        MenuEntry* grown = nullptr;
        KHO_TRY(arena_.reserve(cap * sizeof(MenuEntry), reinterpret_cast<void**>(&grown)));
        for (size_t i = 0; i < entry_count_; i++) grown[i] = entries_[i];
        entries_ = grown;
        entry_capacity_ = cap;
    }
    entries_[entry_count_++] = e;
    return Status::ok();
}

// A copy of a field of c_.scan, or null when it is empty.
static Status field(TextArena& arena, const char* s, const char** out) {
    *out = nullptr;
    return s[0] ? arena.copy(s, text_length(s), out) : Status::ok();
}

// One /loader/entries/<name>.conf. An entry that does not parse is still
// listed (by its id): choosing it gives its error, as booting it would.
Status BootFlow::add_type1(const char* name, size_t len) {
    MenuEntry e;
    KHO_TRY(arena_.copy(name, len - (sizeof(kConf) - 1), &e.id));
    char path[BootEntry::kPathSize];
    format(path, sizeof(path), "%s/%s", kEntriesDir, name);
    init_boot_entry(&c_.scan, e.id);
    uint64_t size = 0;
    Status s = fw_.file_size(path, &size);
    if (s) s = read_text(fw_, path, 0, size, c_.text, sizeof(c_.text));
    if (s) s = parse_boot_entry(path, c_.text, size_t(size), &c_.scan, nullptr);
    if (c_.scan.architecture[0] && __builtin_strcmp(c_.scan.architecture, protocol_.efi_architecture())) {
        log("warn %s: for architecture %s, not %s: not listed", path, c_.scan.architecture,
            protocol_.efi_architecture());
        return Status::ok();
    }
    KHO_TRY(field(arena_, c_.scan.title, &e.title));
    KHO_TRY(field(arena_, c_.scan.version, &e.version));
    KHO_TRY(field(arena_, c_.scan.machine_id, &e.machine_id));
    KHO_TRY(field(arena_, c_.scan.sort_key, &e.sort_key));
    return add_entry(e);
}

// One /EFI/Linux/<name>.efi, listed as systemd-boot lists it: only with
// an .osrel that gives a title and a version (else it is not a UKI of an
// OS, perhaps some other EFI tool), the id its file name.
Status BootFlow::add_uki(const char* name, size_t len) {
    char path[BootEntry::kPathSize];
    format(path, sizeof(path), "%s/%s", kUkiDir, name);
    UkiLayout l;
    uint64_t size = 0;
    Status s = fw_.file_size(path, &size);
    uint64_t head = size < kUkiHeadBytes ? size : kUkiHeadBytes;
    if (s) s = fw_.read_file(path, 0, c_.text, head);
    if (s) s = parse_uki(path, reinterpret_cast<const uint8_t*>(c_.text), size_t(head), size, &l);
    if (s && l.osrel.size == 0) s = Status::error(Err::BadImage, "%s: no .osrel section", path);
    if (s) s = read_text(fw_, path, l.osrel.offset, l.osrel.size, c_.text, sizeof(c_.text));
    OsRelease r;
    if (s) parse_os_release(c_.text, size_t(l.osrel.size), &r);
    if (s && (!os_release_title(r) || !os_release_version(r)))
        s = Status::error(Err::BadImage, "%s: .osrel names no OS or no version", path);
    if (!s) {
        log("warn %s, not listed", s.message());
        return Status::ok();
    }
    MenuEntry e;
    e.uki = true;
    KHO_TRY(arena_.copy(name, len, &e.id));
    KHO_TRY(field(arena_, os_release_title(r), &e.title));
    KHO_TRY(field(arena_, os_release_version(r), &e.version));
    if (const char* key = os_release_sort_key(r)) KHO_TRY(field(arena_, key, &e.sort_key));
    return add_entry(e);
}

Status BootFlow::collect_entries() {
    entry_count_ = 0;
    auto type1 = visitor([this](const char* n, size_t len) { return add_type1(n, len); });
    KHO_TRY(fw_.list_dir(kEntriesDir, kConf, type1));
    auto type2 = visitor([this](const char* n, size_t len) { return add_uki(n, len); });
    KHO_TRY(fw_.list_dir(kUkiDir, kEfi, type2));
    bls_sort(entries_, entry_count_);
    KHO_TRY(make_titles(entries_, entry_count_, arena_));
    KHO_TRY(arena_.reserve((entry_count_ + 1) * sizeof(const char*), reinterpret_cast<void**>(&ids_)));
    for (size_t i = 0; i < entry_count_; i++) ids_[i] = entries_[i].id;
    return Status::ok();
}

// The chosen entry in full into c_.entry, with its warnings.
Status BootFlow::open_entry(size_t index) {
    const MenuEntry& m = entries_[index];
    init_boot_entry(&c_.entry, m.id);
    if (m.uki) {
        format(c_.entry.uki, sizeof(c_.entry.uki), "%s/%s", kUkiDir, m.id);
        format(c_.entry.title, sizeof(c_.entry.title), "%s", m.title ? m.title : "");
        return Status::ok();
    }
    char path[BootEntry::kPathSize];
    format(path, sizeof(path), "%s/%s%s", kEntriesDir, m.id, kConf);
    uint64_t size = 0;
    KHO_TRY(fw_.file_size(path, &size));
    KHO_TRY(read_text(fw_, path, 0, size, c_.text, sizeof(c_.text)));
    return parse_boot_entry(path, c_.text, size_t(size), &c_.entry, &warnings_);
}

// An entry with a UKI (type #2, or the `uki` key): the kernel is its
// .linux section, its .initrd comes before the entry's initrd files, and
// its .cmdline is the command line unless the entry has `options` (as
// systemd-stub lets a boot loader's options replace it when Secure Boot is
// off).
Status BootFlow::resolve_uki() {
    BootEntry& e = c_.entry;
    if (!e.uki[0]) return Status::ok();
    if (e.linux_path[0]) log("warn entry %s has both linux and uki: the uki is booted", e.id);
    uint64_t size = 0;
    KHO_TRY(fw_.file_size(e.uki, &size));
    uint64_t head = size < kUkiHeadBytes ? size : kUkiHeadBytes;
    KHO_TRY(fw_.read_file(e.uki, 0, c_.text, head));
    UkiLayout l;
    KHO_TRY(parse_uki(e.uki, reinterpret_cast<const uint8_t*>(c_.text), size_t(head), size, &l));
    format(e.linux_path, sizeof(e.linux_path), "%s", e.uki);
    e.linux_offset = l.linux.offset;
    e.linux_size = l.linux.size;
    e.uki_initrd_offset = l.initrd.offset;
    e.uki_initrd_size = l.initrd.size;
    if (!e.options[0] && l.cmdline.size) {
        KHO_TRY(read_text(fw_, e.uki, l.cmdline.offset, l.cmdline.size, e.options, sizeof(e.options)));
        // ukify and objcopy recipes often end .cmdline with a newline or NUL.
        for (size_t n = text_length(e.options); n && (e.options[n - 1] == '\n' || e.options[n - 1] == ' '); n--)
            e.options[n - 1] = '\0';
    }
    log("uki %s linux=0x%llx+0x%llx initrd=0x%llx+0x%llx cmdline=%s", e.uki,
        (unsigned long long)l.linux.offset, (unsigned long long)l.linux.size,
        (unsigned long long)l.initrd.offset, (unsigned long long)l.initrd.size,
        l.cmdline.size ? "section" : "none");
    return Status::ok();
}

}  // namespace kho
