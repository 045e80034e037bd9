// loader.conf, BLS entries and load options on arbitrary text: the first
// byte picks the parser. Parsed entries must be NUL-terminated and within
// their fixed bounds, whatever the input.
#include <string.h>

#include "loader/boot_entry.h"

namespace {
class Quiet : public kho::ConfigWarnings {
public:
    void warn(const char*, unsigned, const char*) override {}
};

void check_str(const char* s, size_t cap) {
    if (strnlen(s, cap) >= cap) __builtin_trap();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    const char* text = reinterpret_cast<const char*>(data + 1);
    size_t len = size - 1;
    Quiet quiet;
    static kho::BootEntry entry;
    kho::init_boot_entry(&entry, "fuzz");
    switch (data[0] % 3) {
    case 0: {
        kho::LoaderConf conf;
        if (kho::parse_loader_conf("loader.conf", text, len, &conf, &quiet))
            check_str(conf.default_pattern, sizeof(conf.default_pattern));
        break;
    }
    case 1:
        if (kho::parse_boot_entry("fuzz.conf", text, len, &entry, &quiet)) {
            check_str(entry.linux_path, sizeof(entry.linux_path));
            check_str(entry.options, sizeof(entry.options));
            if (entry.initrd_count > kho::BootEntry::kMaxInitrds) __builtin_trap();
            if (entry.kho_scratch_count > kho::BootEntry::kMaxScratch) __builtin_trap();
        }
        break;
    case 2: {
        static kho::LoadOptions opts;
        if (kho::parse_load_options(text, len, &opts)) {
            if (opts.override_count > kho::LoadOptions::kMaxOverrides) __builtin_trap();
            (void)kho::apply_load_options(opts, &entry, &quiet);
            check_str(entry.options, sizeof(entry.options));
        }
        break;
    }
    }
    return 0;
}
