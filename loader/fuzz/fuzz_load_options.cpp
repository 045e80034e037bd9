// The application's load options as UEFI passes them (LoadOptions,
// LoadOptionsSize bytes of UCS-2, possibly binary OptionalData) through
// efi/main.cpp read_config(): load_options_to_ascii(), then
// parse_load_options() and apply_load_options() on a parsed entry.
//
// Input: u16 size selector (top bit clear: the EFI app's 2048-byte buffer;
// set: a buffer of (v % 64) bytes, to test the bound), then the option
// bytes (odd sizes included). The output buffer is an exact heap
// allocation, so ASan sees a write one byte past it.
#include <string.h>

#include <vector>

#include "fuzz_mem.h"
#include "loader/boot_entry.h"

namespace {

using namespace kho;

#define CHECK(cond) \
    do {            \
        if (!(cond)) __builtin_trap(); \
    } while (0)

class Quiet : public ConfigWarnings {
public:
    void warn(const char*, unsigned, const char*) override {}
};

void check_str(const char* s, size_t cap) { CHECK(strnlen(s, cap) < cap); }

LoadOptions g_opts;
BootEntry g_entry;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    kho::fuzz::Reader in(data, size);
    const uint16_t sel = in.take<uint16_t>();
    const size_t out_size = (sel & 0x8000) ? sel % 64 : 2048;
    const uint8_t* raw;
    const size_t bytes = in.bytes(in.left(), &raw);
    // Pool memory is aligned; the option bytes need not be text.
    std::vector<uint16_t> ucs2((bytes + 1) / 2);
    if (bytes) memcpy(ucs2.data(), raw, bytes);
    std::vector<char> out(out_size);
    const bool ok = load_options_to_ascii(bytes ? ucs2.data() : nullptr, bytes, out.data(), out_size);

    // What text means: every unit before the first NUL printable ASCII (tab,
    // CR, LF read as blanks), all of it fitting with its NUL.
    size_t units = bytes / 2, text_len = 0;
    bool printable = true;
    while (text_len < units && ucs2[text_len]) {
        uint16_t c = ucs2[text_len];
        if (!(c == '\t' || c == '\n' || c == '\r' || (c >= 0x20 && c <= 0x7e))) printable = false;
        text_len++;
    }
    if (out_size == 0) {
        CHECK(!ok);
        return 0;
    }
    if (bytes < 2) CHECK(ok && out[0] == '\0');
    else if (bytes & 1) CHECK(!ok);
    else CHECK(ok == (printable && text_len < out_size));
    if (!ok) return 0;
    CHECK(strnlen(out.data(), out_size) == (bytes < 2 ? 0 : text_len));
    for (size_t i = 0; i < text_len && bytes >= 2; i++) {
        uint16_t c = ucs2[i];
        char want = (c == '\t' || c == '\n' || c == '\r') ? ' ' : char(c);
        CHECK(out[i] == want);
    }

    // read_config(): parse, then apply to the chosen entry.
    if (!parse_load_options(out.data(), strlen(out.data()), &g_opts)) return 0;
    CHECK(g_opts.override_count <= LoadOptions::kMaxOverrides);
    check_str(g_opts.entry_id, sizeof(g_opts.entry_id));
    for (size_t i = 0; i < g_opts.override_count; i++) {
        check_str(g_opts.overrides[i].key, sizeof(g_opts.overrides[i].key));
        check_str(g_opts.overrides[i].value, sizeof(g_opts.overrides[i].value));
    }
    Quiet quiet;
    static const char kEntry[] =
        "title t\nlinux /vmlinuz\ninitrd /a.img\noptions console=ttyS0\nkho auto\n";
    init_boot_entry(&g_entry, "fuzz");
    CHECK(parse_boot_entry("fuzz.conf", kEntry, sizeof(kEntry) - 1, &g_entry, &quiet).is_ok());
    if (!apply_load_options(g_opts, &g_entry, &quiet)) return 0;
    check_str(g_entry.id, sizeof(g_entry.id));
    check_str(g_entry.title, sizeof(g_entry.title));
    check_str(g_entry.linux_path, sizeof(g_entry.linux_path));
    check_str(g_entry.options, sizeof(g_entry.options));
    CHECK(g_entry.initrd_count <= BootEntry::kMaxInitrds);
    for (size_t i = 0; i < g_entry.initrd_count; i++) check_str(g_entry.initrd[i], sizeof(g_entry.initrd[i]));
    CHECK(g_entry.kho_scratch_count <= BootEntry::kMaxScratch);
    for (size_t i = 0; i < g_entry.kho_scratch_count; i++) {
        const auto& r = g_entry.kho_scratch[i];
        CHECK(r.size && r.addr + r.size > r.addr && !(r.addr & 4095) && !(r.size & 4095));
    }
    CHECK(g_entry.kho_scratch_count == 0 || g_entry.kho_fdt);
    return 0;
}
