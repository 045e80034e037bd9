#include "ram_probe.h"

#include "crc32.h"
#include "phys_range.h"

namespace kho {

namespace probe = abi::probe;
using abi::efi::kPageSize;

namespace {

constexpr uint64_t kPageMask = kPageSize - 1;

bool str_is(const char* s, size_t n, const char* lit) {
    size_t i = 0;
    for (; i < n && lit[i]; i++)
        if (s[i] != lit[i]) return false;
    return i == n && lit[i] == '\0';
}

// Descriptor i's [start, end), or false when it wraps or is not page aligned
// (an untrusted map: such a descriptor is left out, never filled).
bool descriptor_range(const FirmwareMemoryMap& map, size_t i, Range* r) {
    const abi::efi::MemoryDescriptor& d = map.at(i);
    if (d.physical_start & kPageMask) return false;
    if (d.number_of_pages > (~0ull - d.physical_start) / kPageSize) return false;
    *r = Range{d.physical_start, d.physical_start + d.number_of_pages * kPageSize};
    return !r->empty();
}

// The owner of `addr` in `map` and where that owner's descriptor (or the
// hole with no descriptor) ends; the map need not be sorted.
uint32_t owner_at(const FirmwareMemoryMap& map, uint64_t addr, uint64_t* until) {
    uint64_t next = ~0ull;
    for (size_t i = 0; i < map.count; i++) {
        Range r;
        if (!descriptor_range(map, i, &r)) continue;
        if (r.start <= addr && addr < r.end) {
            *until = r.end;
            return map.at(i).type;
        }
        if (r.start > addr && r.start < next) next = r.start;
    }
    *until = next;
    return probe::kTypeNotInMap;
}

// Appends the changed run [start, end) split at its owners; touching runs
// with the same owner merge.
void add_changed(const FirmwareMemoryMap& map, uint64_t start, uint64_t end, ProbeResult* out) {
    out->changed_bytes += end - start;
    while (start < end) {
        uint64_t until = 0;
        uint32_t type = owner_at(map, start, &until);
        uint64_t piece_end = until < end ? until : end;
        probe::ChangedRange* last = out->count ? &out->changes[out->count - 1] : nullptr;
        bool merged = last && out->count == out->total && last->end == start && last->type == type;
        if (merged) {
            last->end = piece_end;
        } else {
            if (out->count < probe::kMaxChangedRanges) out->changes[out->count++] = {start, piece_end, type, 0};
            out->total++;
        }
        start = piece_end;
    }
}

template <typename Header>
Status check_header(const void* data, size_t len, uint64_t magic, size_t entry_size, uint32_t max,
                    const char* what, const Header** out) {
    if (reinterpret_cast<uintptr_t>(data) & 7) return Status::error(Err::Io, "%s: buffer not aligned", what);
    if (len < sizeof(Header))
        return Status::error(Err::Io, "%s: %zu bytes, shorter than its %zu-byte header", what, len,
                             sizeof(Header));
    const Header* h = static_cast<const Header*>(data);
    if (h->magic != magic) return Status::error(Err::Io, "%s: bad magic 0x%llx", what, (unsigned long long)h->magic);
    if (h->version != probe::kVersion)
        return Status::error(Err::Io, "%s: version %u, this build reads %u", what, h->version, probe::kVersion);
    if (h->header_size != sizeof(Header) || h->entry_size != entry_size)
        return Status::error(Err::Io, "%s: header %u / entry %u bytes, want %zu / %zu", what, h->header_size,
                             h->entry_size, sizeof(Header), entry_size);
    if (h->count > max) return Status::error(Err::Io, "%s: %u entries, at most %u", what, h->count, max);
    if (len != sizeof(Header) + size_t(h->count) * entry_size)
        return Status::error(Err::Io, "%s: %zu bytes for %u entries", what, len, h->count);
    uint32_t crc = crc32_self_checked(data, len, offsetof(Header, crc32));
    if (crc != h->crc32)
        return Status::error(Err::Io, "%s: crc32 0x%08x, header says 0x%08x", what, crc, h->crc32);
    *out = h;
    return Status::ok();
}

}  // namespace

uint64_t probe_word(uint64_t phys, uint64_t salt) {
    return ((phys ^ salt) * probe::kPatternMul) ^ probe::kPatternXor;
}

void probe_fill(uint8_t* bytes, uint64_t phys, uint64_t len, uint64_t salt) {
    uint64_t* w = reinterpret_cast<uint64_t*>(bytes);
    for (uint64_t off = 0; off < len; off += 8) *w++ = probe_word(phys + off, salt);
}

bool probe_page_intact(const uint8_t* page, uint64_t phys, uint64_t salt) {
    const uint64_t* w = reinterpret_cast<const uint64_t*>(page);
    // One multiply per word; the first difference ends the page.
    uint64_t x = (phys ^ salt) * probe::kPatternMul;
    const uint64_t step = 8 * probe::kPatternMul;
    // phys is page aligned: (phys + 8i) ^ salt == (phys ^ salt) + 8i unless
    // the salt has bits inside the page (khoboot clears them; a record from
    // elsewhere may not), then word by word.
    if (salt & (kPageSize - 8)) {
        for (uint64_t i = 0; i < kPageSize / 8; i++)
            if (w[i] != probe_word(phys + 8 * i, salt)) return false;
        return true;
    }
    for (uint64_t i = 0; i < kPageSize / 8; i++, x += step)
        if (w[i] != (x ^ probe::kPatternXor)) return false;
    return true;
}

Range probe_reserve(const FirmwareMemoryMap& map, uint64_t bytes) {
    Range best{0, 0}, largest{0, 0};
    for (size_t i = 0; i < map.count; i++) {
        Range r;
        if (map.at(i).type != abi::efi::kConventionalMemory || !descriptor_range(map, i, &r)) continue;
        if (r.size() > largest.size()) largest = r;
        if (r.size() >= bytes && r.end <= (1ull << 32) && r.end > best.end) best = r;
    }
    if (best.empty()) best = largest;
    if (best.empty()) return Range{0, 0};
    uint64_t size = bytes < best.size() ? bytes : best.size();
    return Range{best.end - size, best.end};
}

Status probe_fill_plan(const FirmwareMemoryMap& map, const Range& reserve, RangeSet& out) {
    out.clear();
    for (size_t i = 0; i < map.count; i++) {
        Range r;
        if (map.at(i).type != abi::efi::kConventionalMemory || !descriptor_range(map, i, &r)) continue;
        if (r.start < kPageSize) r.start = kPageSize;  // page 0: a null pointer to C code
        Range parts[2] = {r, Range{0, 0}};
        if (!reserve.empty() && r.overlaps(reserve)) {
            parts[0] = Range{r.start, reserve.start > r.start ? reserve.start : r.start};
            parts[1] = Range{reserve.end < r.end ? reserve.end : r.end, r.end};
        }
        for (const Range& p : parts) {
            if (p.empty()) continue;
            Status s = out.add(p);
            if (s.code() == Err::Capacity) break;  // the record's bound: fill no more
            KHO_TRY(s);
        }
    }
    out.normalize();
    return Status::ok();
}

Status encode_probe_armed(const RangeSet& filled, uint64_t salt, uint8_t* out, size_t capacity, size_t* len) {
    if (filled.size() > probe::kMaxFilledRanges)
        return Status::error(Err::Capacity, "probe: %zu filled ranges, the record holds %u", filled.size(),
                             probe::kMaxFilledRanges);
    size_t need = sizeof(probe::ArmedHeader) + filled.size() * sizeof(probe::FilledRange);
    if (need > capacity) return Status::error(Err::Capacity, "probe record: %zu bytes, buffer %zu", need, capacity);
    __builtin_memset(out, 0, need);
    probe::ArmedHeader h{};
    h.magic = probe::kArmedMagic;
    h.version = probe::kVersion;
    h.header_size = sizeof(h);
    h.entry_size = sizeof(probe::FilledRange);
    h.count = static_cast<uint32_t>(filled.size());
    h.salt = salt;
    h.filled_bytes = filled.total_bytes();
    __builtin_memcpy(out, &h, sizeof(h));
    uint8_t* p = out + sizeof(h);
    for (const Range& r : filled) {
        probe::FilledRange f{r.start, r.end};
        __builtin_memcpy(p, &f, sizeof(f));
        p += sizeof(f);
    }
    uint32_t crc = crc32_self_checked(out, need, offsetof(probe::ArmedHeader, crc32));
    __builtin_memcpy(out + offsetof(probe::ArmedHeader, crc32), &crc, 4);
    *len = need;
    return Status::ok();
}

Status parse_probe_armed(const void* data, size_t len, ProbeArmed* out) {
    const probe::ArmedHeader* h = nullptr;
    KHO_TRY(check_header(data, len, probe::kArmedMagic, sizeof(probe::FilledRange), probe::kMaxFilledRanges,
                         probe::kArmedVariable, &h));
    auto* ranges = reinterpret_cast<const probe::FilledRange*>(static_cast<const uint8_t*>(data) + sizeof(*h));
    uint64_t sum = 0, prev_end = 0;
    for (uint32_t i = 0; i < h->count; i++) {
        const probe::FilledRange& r = ranges[i];
        if ((r.start | r.end) & kPageMask || r.end <= r.start || (i && r.start <= prev_end) || r.start < kPageSize)
            return Status::error(Err::Io, "%s: range %u 0x%llx-0x%llx not page aligned, empty or out of order",
                                 probe::kArmedVariable, i, (unsigned long long)r.start, (unsigned long long)r.end);
        sum += r.end - r.start;
        prev_end = r.end;
    }
    if (sum != h->filled_bytes)
        return Status::error(Err::Io, "%s: ranges hold %llu bytes, header says %llu", probe::kArmedVariable,
                             (unsigned long long)sum, (unsigned long long)h->filled_bytes);
    out->salt = h->salt;
    out->filled_bytes = h->filled_bytes;
    out->count = h->count;
    out->ranges = ranges;
    return Status::ok();
}

void probe_compare(const ProbeArmed& armed, const PhysMem& mem, const FirmwareMemoryMap& map, ProbeResult* out) {
    out->salt = armed.salt;
    out->filled_bytes = armed.filled_bytes;
    out->filled_ranges = armed.count;
    out->changed_bytes = 0;
    out->total = out->count = 0;
    for (uint32_t i = 0; i < armed.count; i++) {
        const probe::FilledRange& f = armed.ranges[i];
        uint64_t run_start = 0;
        bool in_run = false;
        for (uint64_t p = f.start; p < f.end; p += kPageSize) {
            const uint8_t* page = mem.view(p, kPageSize);
            bool changed = !page || !probe_page_intact(page, p, armed.salt);
            if (changed && !in_run) run_start = p;
            if (!changed && in_run) add_changed(map, run_start, p, out);
            in_run = changed;
        }
        if (in_run) add_changed(map, run_start, f.end, out);
    }
}

Status encode_probe_result(const ProbeResult& r, uint8_t* out, size_t capacity, size_t* len) {
    size_t need = sizeof(probe::ResultHeader) + size_t(r.count) * sizeof(probe::ChangedRange);
    if (r.count > probe::kMaxChangedRanges || need > capacity)
        return Status::error(Err::Capacity, "probe result: %zu bytes, buffer %zu", need, capacity);
    __builtin_memset(out, 0, need);
    probe::ResultHeader h{};
    h.magic = probe::kResultMagic;
    h.version = probe::kVersion;
    h.header_size = sizeof(h);
    h.entry_size = sizeof(probe::ChangedRange);
    h.count = r.count;
    h.total = r.total;
    h.salt = r.salt;
    h.filled_bytes = r.filled_bytes;
    h.changed_bytes = r.changed_bytes;
    h.filled_ranges = r.filled_ranges;
    __builtin_memcpy(out, &h, sizeof(h));
    __builtin_memcpy(out + sizeof(h), r.changes, size_t(r.count) * sizeof(probe::ChangedRange));
    uint32_t crc = crc32_self_checked(out, need, offsetof(probe::ResultHeader, crc32));
    __builtin_memcpy(out + offsetof(probe::ResultHeader, crc32), &crc, 4);
    *len = need;
    return Status::ok();
}

Status parse_probe_result(const void* data, size_t len, ProbeResult* out) {
    const probe::ResultHeader* h = nullptr;
    KHO_TRY(check_header(data, len, probe::kResultMagic, sizeof(probe::ChangedRange), probe::kMaxChangedRanges,
                         probe::kResultVariable, &h));
    if (h->total < h->count)
        return Status::error(Err::Io, "%s: %u ranges listed of %u found", probe::kResultVariable, h->count, h->total);
    auto* c = reinterpret_cast<const probe::ChangedRange*>(static_cast<const uint8_t*>(data) + sizeof(*h));
    uint64_t prev_end = 0;
    for (uint32_t i = 0; i < h->count; i++) {
        if ((c[i].start | c[i].end) & kPageMask || c[i].end <= c[i].start || c[i].start < prev_end)
            return Status::error(Err::Io, "%s: range %u 0x%llx-0x%llx not page aligned, empty or out of order",
                                 probe::kResultVariable, i, (unsigned long long)c[i].start,
                                 (unsigned long long)c[i].end);
        prev_end = c[i].end;
        out->changes[i] = c[i];
    }
    out->salt = h->salt;
    out->filled_bytes = h->filled_bytes;
    out->changed_bytes = h->changed_bytes;
    out->filled_ranges = h->filled_ranges;
    out->total = h->total;
    out->count = h->count;
    return Status::ok();
}

const char* probe_owner_name(uint32_t type) {
    return type == probe::kTypeNotInMap ? "not-in-map" : abi::efi::memory_type_name(type);
}

Status parse_probe_mode(const char* text, size_t len, ProbeMode* out) {
    if (str_is(text, len, "off")) *out = ProbeMode::Off;
    else if (str_is(text, len, "once")) *out = ProbeMode::Once;
    else return Status::error(Err::BadEntry, "khoboot-probe must be off or once");
    return Status::ok();
}

ProbeArm decide_probe_arm(bool requested, ProbeMode mode, bool result_stored, bool state_found) {
    bool asked = requested || (mode == ProbeMode::Once && !result_stored);
    if (!asked) return ProbeArm::No;
    return state_found ? ProbeArm::StateAtStake : ProbeArm::Arm;
}

size_t probe_clobbered(const ProbeResult& r, const RangeSet& state, Range* out, uint32_t* types,
                       size_t capacity) {
    size_t n = 0;
    for (uint32_t i = 0; i < r.count; i++) {
        const probe::ChangedRange& c = r.changes[i];
        for (size_t j = state.lower_bound(c.start); j < state.size() && state[j].start < c.end; j++) {
            Range part{state[j].start > c.start ? state[j].start : c.start,
                       state[j].end < c.end ? state[j].end : c.end};
            if (n < capacity) {
                out[n] = part;
                if (types) types[n] = c.type;
            }
            n++;
        }
    }
    return n;
}

Status probe_clobber_verdict(const ProbeResult& r, const RangeSet& state) {
    Range part{0, 0};
    uint32_t type = 0;
    size_t n = probe_clobbered(r, state, &part, &type, 1);
    if (!n) return Status::ok();
    const probe::ChangedRange* in = nullptr;
    for (uint32_t i = 0; i < r.count && !in; i++)
        if (r.changes[i].start <= part.start && part.end <= r.changes[i].end) in = &r.changes[i];
    // Short enough for Status's 160 bytes with 48-bit addresses.
    return Status::error(Err::Clobbered, "0x%llx-0x%llx lies in 0x%llx-0x%llx (%s), rewritten across the probe's "
                         "warm reset; %zu part(s)",
                         (unsigned long long)part.start, (unsigned long long)part.end,
                         (unsigned long long)in->start, (unsigned long long)in->end, probe_owner_name(type), n);
}

}  // namespace kho
