#include "boot_attempt.h"

#include "crc32.h"
#include "format.h"

namespace kho {

namespace rec = abi::boot_record;

const char* attempt_verdict_name(AttemptVerdict v) {
    switch (v) {
    case AttemptVerdict::NoState: return "no-state";
    case AttemptVerdict::Proceed: return "proceed";
    case AttemptVerdict::Failed: return "failed";
    case AttemptVerdict::ForeignRecord: return "foreign-record";
    }
    return "?";
}

rec::Attempt make_attempt_record(const void* descriptor, size_t descriptor_len) {
    rec::Attempt a{};
    a.magic = rec::kAttemptMagic;
    a.version = rec::kAttemptVersion;
    a.descriptor_crc32 = crc32(static_cast<const uint8_t*>(descriptor), descriptor_len);
    return a;
}

AttemptVerdict assess_attempt(const void* descriptor, size_t descriptor_len,
                              bool descriptor_found, const void* record, size_t record_len,
                              bool record_found) {
    if (!descriptor_found) return record_found ? AttemptVerdict::ForeignRecord : AttemptVerdict::NoState;
    if (!record_found) return AttemptVerdict::Proceed;
    if (!record || record_len != sizeof(rec::Attempt)) return AttemptVerdict::ForeignRecord;
    rec::Attempt got;
    __builtin_memcpy(&got, record, sizeof(got));  // a variable's bytes need not be aligned
    rec::Attempt want = make_attempt_record(descriptor, descriptor_len);
    if (got.magic != want.magic || got.version != want.version ||
        got.descriptor_crc32 != want.descriptor_crc32)
        return AttemptVerdict::ForeignRecord;
    return AttemptVerdict::Failed;
}

const char* boot_outcome_name(BootOutcome o) {
    switch (o) {
    case BootOutcome::Handover: return "handover";
    case BootOutcome::ColdBoot: return "cold-boot";
    case BootOutcome::Halt: return "halt";
    case BootOutcome::Exit: return "exit";
    }
    return "?";
}

namespace {

// Appends to a bounded buffer; remembers whether anything was cut.
class Text {
public:
    Text(char* out, size_t capacity) : out_(out), cap_(capacity) {
        if (cap_) out_[0] = '\0';
    }
    void put(char c) {
        if (len_ + 1 < cap_) {
            out_[len_++] = c;
            out_[len_] = '\0';
        } else {
            cut_ = true;
        }
    }
    void str(const char* s) {
        for (; s && *s; ++s) put(static_cast<unsigned char>(*s) < 0x20 || *s == 0x7f ? '?' : *s);
    }
    void line(const char* key, const char* value) {
        str(key);
        put('=');
        str(value);
        put('\n');
    }
    void number(uint64_t v) {
        char digits[24];
        format(digits, sizeof(digits), "%llu", (unsigned long long)v);
        str(digits);
    }
    size_t length() const { return len_; }
    bool cut() const { return cut_ || cap_ == 0; }

private:
    char* out_;
    size_t cap_;
    size_t len_ = 0;
    bool cut_ = false;
};

}  // namespace

Status format_boot_status(const BootStatus& s, char* out, size_t capacity, size_t* len) {
    Text t(out, capacity);
    t.line("version", "1");
    t.line("outcome", boot_outcome_name(s.outcome));
    t.line("error", s.error_kind ? s.error_kind : "none");
    t.line("message", s.message ? s.message : "");
    t.line("entry", s.entry ? s.entry : "");
    t.str("phases=");
    for (size_t i = 0; i < s.phase_count && i < BootStatus::kMaxPhases; ++i) {
        if (i) t.put(',');
        t.str(s.phases[i].name);
        t.put(':');
        t.number(s.phases[i].us);
    }
    t.put('\n');
    t.str("entry-to-jump-us=");
    t.number(s.entry_to_jump_us);
    t.put('\n');
    if (t.cut()) return Status::error(Err::Capacity, "boot status needs more than %zu bytes", capacity);
    *len = t.length();
    return Status::ok();
}

}  // namespace kho

namespace kho {

namespace {

bool same(const char* a, const char* b) {
    while (*a && *a == *b) ++a, ++b;
    return *a == *b;
}

// Plain decimal: what Text::number() writes, nothing else.
bool parse_decimal(const char* s, uint64_t* out) {
    if (!*s) return false;
    uint64_t v = 0;
    for (; *s; ++s) {
        if (*s < '0' || *s > '9') return false;
        unsigned d = unsigned(*s - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

// Names are looked up through boot_outcome_name(), so an outcome added to
// the enum is read back without a second table here.
bool parse_outcome(const char* s, BootOutcome* out) {
    for (unsigned i = 0; i < 32; ++i) {
        const char* name = boot_outcome_name(static_cast<BootOutcome>(i));
        if (same(name, "?")) continue;
        if (same(name, s)) {
            *out = static_cast<BootOutcome>(i);
            return true;
        }
    }
    return false;
}

Status bad_status(unsigned line, const char* what) {
    return Status::error(Err::BadDescriptor, "KhoBootStatus line %u: %s", line, what);
}

// "name:us,name:us" split in place; an empty list is no phases.
Status parse_phases(char* v, unsigned line, BootStatus* s) {
    if (!*v) return Status::ok();
    for (char* item = v; item;) {
        char* comma = item;
        while (*comma && *comma != ',') ++comma;
        char* next = *comma ? comma + 1 : nullptr;
        *comma = '\0';
        char* colon = item;
        while (*colon && *colon != ':') ++colon;
        if (!*colon || colon == item) return bad_status(line, "a phase is not name:us");
        *colon = '\0';
        uint64_t us;
        if (!parse_decimal(colon + 1, &us)) return bad_status(line, "a phase's us is not a decimal number");
        if (s->phase_count == BootStatus::kMaxPhases) return bad_status(line, "more phases than khoboot records");
        s->phases[s->phase_count++] = {item, us};
        item = next;
    }
    return Status::ok();
}

enum KnownKey : unsigned { kVersion, kOutcome, kError, kMessage, kEntry, kPhases, kEntryToJump, kKnownKeys };
constexpr const char* kKeyNames[kKnownKeys] = {"version", "outcome", "error", "message",
                                               "entry", "phases", "entry-to-jump-us"};

Status apply_status_key(unsigned key, char* v, unsigned line, ParsedBootStatus* out) {
    BootStatus& s = out->status;
    uint64_t n;
    switch (key) {
    case kVersion:
        if (!same(v, "1")) return bad_status(line, "version is not 1");
        out->version = 1;
        break;
    case kOutcome:
        if (!parse_outcome(v, &s.outcome)) return bad_status(line, "unknown outcome");
        break;
    case kError: s.error_kind = same(v, "none") ? nullptr : v; break;
    case kMessage: s.message = *v ? v : nullptr; break;
    case kEntry: s.entry = *v ? v : nullptr; break;
    case kPhases: return parse_phases(v, line, &s);
    case kEntryToJump:
        if (!parse_decimal(v, &n)) return bad_status(line, "entry-to-jump-us is not a decimal number");
        s.entry_to_jump_us = n;
        break;
    }
    return Status::ok();
}

}  // namespace

Status parse_boot_status(const char* text, size_t len, ParsedBootStatus* out) {
    *out = ParsedBootStatus{};
    if (len > abi::boot_record::kStatusMaxBytes)
        return Status::error(Err::BadDescriptor, "KhoBootStatus is %zu bytes, more than %zu", len,
                             abi::boot_record::kStatusMaxBytes);
    __builtin_memcpy(out->text, text, len);
    out->text[len] = '\0';
    bool seen[kKnownKeys] = {};
    unsigned line = 0;
    for (size_t i = 0; i < len;) {
        ++line;
        char* k = out->text + i;
        while (i < len && out->text[i] != '\n') {
            if (out->text[i] == '\0') return bad_status(line, "NUL byte");
            ++i;
        }
        out->text[i++] = '\0';  // the '\n', or the terminator after the last line
        char* eq = k;
        while (*eq && *eq != '=') ++eq;
        if (!*eq) return bad_status(line, "not key=value");
        if (eq == k) return bad_status(line, "empty key");
        *eq = '\0';
        for (unsigned key = 0; key < kKnownKeys; ++key) {
            if (!same(k, kKeyNames[key])) continue;
            if (seen[key]) return bad_status(line, "a key given twice");
            seen[key] = true;
            KHO_TRY(apply_status_key(key, eq + 1, line, out));
        }
    }
    if (!seen[kVersion] || !seen[kOutcome])
        return Status::error(Err::BadDescriptor, "KhoBootStatus has no %s line",
                             seen[kVersion] ? "outcome" : "version");
    return Status::ok();
}

}  // namespace kho
