// The memblock sub-FDT -> command line path of a KHO boot (efi/main.cpp
// build_cmdline()): read_reserve_mem_regions() over a fuzzed RAM image,
// then add_kho_parameters() on fuzzed entry options. What matters is what
// the next kernel sees, so the result is split into parameters the way
// Linux does (lib/cmdline.c next_arg(), lib/ctype.c isspace()) and
// checked there: the kho= the loader added is a parameter of its own and
// the last kho= word, and every region has a reserve_mem= the kernel's
// reserve_mem() parses back to the region's size and an alignment its
// start meets.
//
// Input: u8 flags (bit0: the sub-node has blob-size; bit1: the blob
// address is the raw u64 that follows instead of an offset into the
// image), u16 options length, options text, u32 blob offset from the
// image base or u64 raw address, u32 blob size, u8 region capacity
// (1..8), then the RAM image (repeated, fuzz_mem.h).
#include <string.h>

#include "fuzz_mem.h"
#include "loader/boot_entry.h"
#include "loader/cmdline.h"
#include "loader/kho_fdt_reader.h"

namespace {

using namespace kho;
namespace fz = kho::fuzz;

#define CHECK(cond) \
    do {            \
        if (!(cond)) __builtin_trap(); \
    } while (0)

KhoState g_state;
uint8_t g_scratch[fz::kEfiMemblockFdt];
ReserveMemRegion g_regions[fz::kEfiReserveRegions];
char g_buf[fz::kEfiCmdline];
char g_copy[fz::kEfiCmdline], g_copy2[fz::kEfiCmdline];
char g_options[BootEntry::kOptionsSize];

// lib/ctype.c: _S is set for \t \n \v \f \r, space and 0xa0.
bool kernel_space(char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return u == ' ' || (u >= '\t' && u <= '\r') || u == 0xa0;
}

struct Param {
    const char* name;
    const char* val;  // nullptr without '='
};

// lib/cmdline.c next_arg(), on a private copy (it writes NULs).
size_t kernel_params(char* args, Param* out, size_t cap) {
    size_t n = 0;
    while (kernel_space(*args)) args++;
    while (*args && n < cap) {
        unsigned i, equals = 0;
        int in_quote = 0, quoted = 0;
        if (*args == '"') {
            args++;
            in_quote = 1;
            quoted = 1;
        }
        for (i = 0; args[i]; i++) {
            if (kernel_space(args[i]) && !in_quote) break;
            if (equals == 0 && args[i] == '=') equals = i;
            if (args[i] == '"') in_quote = !in_quote;
        }
        Param p{args, nullptr};
        if (equals) {
            args[equals] = '\0';
            p.val = args + equals + 1;
            if (*p.val == '"') {
                p.val++;
                if (args[i - 1] == '"') args[i - 1] = '\0';
            }
        }
        if (quoted && i > 0 && args[i - 1] == '"') args[i - 1] = '\0';
        out[n++] = p;
        if (args[i]) {
            args[i] = '\0';
            args += i + 1;
        } else {
            args += i;
        }
        while (kernel_space(*args)) args++;
    }
    return n;
}

// parameq(): '-' and '_' are equal.
bool param_is(const char* a, const char* b) {
    for (; *a && *b; a++, b++) {
        char x = *a == '-' ? '_' : *a, y = *b == '-' ? '_' : *b;
        if (x != y) return false;
    }
    return *a == *b;
}

// lib/cmdline.c memparse(): a number (kstrtoull base 0 prefixes) and an
// optional K/M/G/T/P/E suffix.
uint64_t memparse(const char* s, const char** end) {
    uint64_t v = 0;
    unsigned base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) base = 16, s += 2;
    else if (s[0] == '0') base = 8;
    for (;; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9') d = *s - '0';
        else if (*s >= 'a' && *s <= 'f') d = *s - 'a' + 10;
        else if (*s >= 'A' && *s <= 'F') d = *s - 'A' + 10;
        else break;
        if (d >= base) break;
        v = v * base + d;
    }
    unsigned shift = 0;
    switch (*s) {
    case 'E': case 'e': shift += 10; [[fallthrough]];
    case 'P': case 'p': shift += 10; [[fallthrough]];
    case 'T': case 't': shift += 10; [[fallthrough]];
    case 'G': case 'g': shift += 10; [[fallthrough]];
    case 'M': case 'm': shift += 10; [[fallthrough]];
    case 'K': case 'k': shift += 10; s++; break;
    default: break;
    }
    *end = s;
    return v << shift;
}

// The first reserve_mem= that mm/memblock.c reserve_mem() reads as region
// `name` (<size>:<align>:<name>), with its size and alignment.
bool find_reserve_mem(const Param* p, size_t n, const char* name, uint64_t* size, uint64_t* align) {
    for (size_t i = 0; i < n; i++) {
        const char* v = p[i].val;
        if (!param_is(p[i].name, "reserve_mem") || !v) continue;
        const char* q;
        // mm/memblock.c reserve_mem(): a size of 0 or no digits is refused;
        // the alignment may be empty (memparse() gives 0, raised later to
        // SMP_CACHE_BYTES), only the ':' after it is required.
        *size = memparse(v, &q);
        if (*size == 0 || q == v || *q != ':') continue;
        const char* a = q + 1;
        *align = memparse(a, &q);
        if (*q != ':') continue;
        if (strcmp(q + 1, name) == 0) return true;
    }
    return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fz::Reader in(data, size);
    const uint8_t flags = in.take<uint8_t>();
    size_t olen = in.take<uint16_t>() % BootEntry::kOptionsSize;
    const uint8_t* opts;
    olen = in.bytes(olen, &opts);
    memcpy(g_options, opts, olen);
    g_options[olen] = '\0';
    olen = strlen(g_options);  // entry text ends at a NUL
    uint64_t blob = (flags & 2) ? in.take<uint64_t>() : fz::FuzzMem::kBase + in.take<uint32_t>();
    const uint64_t blob_size = in.take<uint32_t>();
    const size_t capacity = 1 + in.take<uint8_t>() % fz::kEfiReserveRegions;
    const uint8_t* image;
    size_t image_len = in.bytes(in.left(), &image);
    fz::FuzzMem mem(image, image_len);

    // The reader hands over a sub-node this shape (kho_fdt_reader.cpp).
    memset(&g_state, 0, sizeof(g_state));
    g_state.version = (flags & 1) ? abi::KhoVersion::V4 : abi::KhoVersion::V2;
    g_state.subnode_count = 1;
    KhoSubnode& node = g_state.subnodes[0];
    strcpy(node.name, "memblock");
    node.blob_phys = blob;
    node.blob_size = (flags & 1) ? blob_size : 4096;
    node.has_blob_size = flags & 1;

    size_t n = 0;
    Status rs = read_reserve_mem_regions(mem, g_state, g_scratch, sizeof(g_scratch), g_regions, capacity, &n);
    fz::trace("read_reserve_mem_regions", rs);
    if (!rs) return 0;
    CHECK(n <= capacity);
    for (size_t i = 0; i < n; i++) {
        const ReserveMemRegion& r = g_regions[i];
        size_t len = strnlen(r.name, sizeof(r.name));
        CHECK(len > 0 && len < sizeof(r.name));
        for (size_t k = 0; k < len; k++)
            CHECK(r.name[k] > 0x20 && r.name[k] < 0x7f && r.name[k] != '"');
        CHECK(r.size && r.start + r.size > r.start);
    }

    CommandLine cl(g_buf, sizeof(g_buf));
    if (!cl.set(g_options)) return 0;
    bool had_kho = cl.has("kho");
    KhoCmdlineEdits edits;
    Status as = add_kho_parameters(cl, g_regions, n, &edits);
    fz::trace("add_kho_parameters", as);
    if (!as) return 0;
    if (getenv("FUZZ_TRACE")) fprintf(stderr, "trace: cmdline: %s\n", cl.c_str());
    CHECK(cl.length() == strlen(cl.c_str()) && cl.length() < sizeof(g_buf));
    CHECK(memcmp(cl.c_str(), g_options, olen) == 0);  // the entry's options come first, unchanged
    CHECK(edits.added_kho_on == !had_kho && edits.added_reserve_mem <= n);

    // What the next kernel's parse_args() sees.
    static Param before[fz::kEfiCmdline], after[fz::kEfiCmdline];
    memcpy(g_copy, g_options, olen + 1);
    size_t nb = kernel_params(g_copy, before, fz::kEfiCmdline);
    memcpy(g_copy2, cl.c_str(), cl.length() + 1);
    size_t na = kernel_params(g_copy2, after, fz::kEfiCmdline);
    // The kho= the loader adds is a parameter of its own, and the last.
    const char* last_kho = nullptr;
    bool kho_seen = false;
    for (size_t i = 0; i < na; i++)
        if (param_is(after[i].name, "kho")) kho_seen = true, last_kho = after[i].val;
    CHECK(kho_seen);
    if (edits.added_kho_on) CHECK(last_kho && strcmp(last_kho, "on") == 0);
    // Each region the options did not name itself: the first reserve_mem=
    // of that name (the one reserve_mem() keeps) revives it.
    for (size_t i = 0; i < n; i++) {
        const ReserveMemRegion& r = g_regions[i];
        bool dup = false;
        for (size_t j = 0; j < i; j++) dup |= strcmp(g_regions[j].name, r.name) == 0;
        uint64_t sz, align;
        if (dup || find_reserve_mem(before, nb, r.name, &sz, &align)) continue;
        CHECK(find_reserve_mem(after, na, r.name, &sz, &align));
        CHECK(sz == r.size && align && !(align & (align - 1)) && !(r.start & (align - 1)));
    }
    return 0;
}
