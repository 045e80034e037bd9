// One try per KHO state: the decision khoboot makes from the descriptor
// variable and its own attempt record (abi/boot_record.h) before it reads
// anything untrusted, and the status record it leaves for the booted OS.
//
// A state that hangs or crashes the loader (or whose boot is cut short by
// the watchdog, a reset or a power cut before the kernel is entered) is
// never tried a second time: the next boot finds the record beside the
// same descriptor, reports `kho-attempt-failed`, consumes both and follows
// the entry's kho-on-error policy. No state causes two failed boots in a
// row.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../abi/boot_record.h"
#include "status.h"

namespace kho {

enum class AttemptVerdict : uint8_t {
    NoState,        // no descriptor: nothing to try
    Proceed,        // a descriptor and no record of a try: write one, go on
    Failed,         // a record of an unfinished try of this descriptor
    ForeignRecord,  // a record of another descriptor (or garbage): drop it, go on
};

const char* attempt_verdict_name(AttemptVerdict v);

// `record` may be null (no record variable). A record that is not a valid
// Attempt for this descriptor never condemns it.
AttemptVerdict assess_attempt(const void* descriptor, size_t descriptor_len,
                              bool descriptor_found, const void* record, size_t record_len,
                              bool record_found);

// The record to write before parsing `descriptor`.
abi::boot_record::Attempt make_attempt_record(const void* descriptor, size_t descriptor_len);

// What a boot ended in, for the KhoBootStatus variable. Exit: khoboot
// returned to the firmware's boot manager with an error (no state at
// stake), which goes on to its next boot option.
enum class BootOutcome : uint8_t { Handover, ColdBoot, Halt, Exit };
const char* boot_outcome_name(BootOutcome o);

struct BootPhase {
    const char* name = nullptr;
    uint64_t us = 0;
};

struct BootStatus {
    static constexpr size_t kMaxPhases = 12;
    BootOutcome outcome = BootOutcome::ColdBoot;
    const char* error_kind = nullptr;  // the first error line's kind, or null
    const char* message = nullptr;     // its message
    const char* entry = nullptr;       // the boot entry's id, or null
    BootPhase phases[kMaxPhases];
    size_t phase_count = 0;
    uint64_t entry_to_jump_us = 0;
};

// "version=1\noutcome=...\nerror=<kind>|none\nmessage=...\nentry=...\n
// phases=<name>:<us>,...\nentry-to-jump-us=<n>\n" into `out` (NUL-terminated,
// the NUL not counted in *len). Control characters in strings become '?'
// so each key stays one line. Err::Capacity if it does not fit.
Status format_boot_status(const BootStatus& status, char* out, size_t capacity, size_t* len);

}  // namespace kho

namespace kho {

// KhoBootStatus read back (khotool status): the strings of `status` point
// into `text`, a copy of the variable split in place.
struct ParsedBootStatus {
    uint32_t version = 0;
    BootStatus status;
    char text[abi::boot_record::kStatusMaxBytes + 1];
};

// The inverse of format_boot_status(). Tolerant of what a newer khoboot
// may add (unknown keys are skipped) and of a missing final newline;
// strict on the rest, since the text comes from a variable anyone with
// root can write: a line without '=', an empty or repeated key, a NUL, a
// version other than 1, an unknown outcome, a number that is not decimal
// or overflows, a phase that is not "name:us", more than kMaxPhases
// phases, a missing version or outcome, or more than kStatusMaxBytes is
// Err::BadDescriptor naming the line. "error=none" reads back as null,
// empty message and entry as null, as format_boot_status() writes them.
Status parse_boot_status(const char* text, size_t len, ParsedBootStatus* out);

}  // namespace kho
