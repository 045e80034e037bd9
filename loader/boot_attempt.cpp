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
