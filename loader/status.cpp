#include "status.h"

#include <stdarg.h>

#include "format.h"

namespace kho {

namespace {

// The one vocabulary of error kinds: khoboot's serial protocol
// ("KHOBOOT: error <kind> ..."), KhoBootStatus, khotool ("khotool: error
// <kind>: ..."), efi/README.md. Kinds about the KHO state start "kho-".
struct ErrKind {
    Err code;
    const char* name;
    const char* meaning;
};
constexpr ErrKind kKinds[] = {
    {Err::Ok, "ok", "no error"},
    {Err::BadFdt, "kho-bad-fdt", "a KHO FDT's header or structure is invalid"},
    {Err::BadVersion, "kho-bad-version", "the root compatible names no KHO version khoboot reads"},
    {Err::BadProperty, "kho-bad-property", "a KHO property, a sub-node or a scratch region is missing or malformed"},
    {Err::BadPointer, "kho-bad-pointer", "a map pointer is null, unaligned, wraps, or is reached twice"},
    {Err::BadMap, "kho-bad-map", "the map's content is invalid (orders, depth, pages claimed twice)"},
    {Err::OutOfRam, "kho-out-of-ram", "a pointer or range of the state is not RAM"},
    {Err::Capacity, "capacity", "more than khoboot's storage holds"},
    {Err::Conflict, "kho-conflict", "preserved memory the firmware owns"},
    {Err::Overlap, "kho-overlap", "preserved memory inside scratch"},
    {Err::NoSpace, "no-space", "scratch or RAM too small for the kernel, initrd or boot data"},
    {Err::BadImage, "image", "the kernel image is invalid"},
    {Err::BadDescriptor, "descriptor", "the handover descriptor is invalid"},
    {Err::BadEntry, "entry", "the boot entry or its options are invalid"},
    {Err::Stale, "kho-stale", "the descriptor names RAM that no longer holds its state"},
    {Err::Io, "io", "a firmware call or file access failed"},
    {Err::Integrity, "kho-integrity", "preserved bytes differ from the producer's manifest"},
    {Err::AttemptFailed, "kho-attempt-failed", "an earlier boot of this state never reached its kernel"},
    {Err::Clobbered, "kho-clobbered", "preserved memory where the RAM-retention probe saw the firmware rewrite RAM across a warm reset"},
    {Err::Unverified, "image-unverified", "Secure Boot is on and the kernel image is not signed by a key the firmware (db/dbx) or shim accepts"},
};
static_assert(sizeof(kKinds) / sizeof(kKinds[0]) == size_t(Err::Unverified) + 1,
              "every Err has a kind");

const ErrKind* kind_of(Err e) {
    for (const ErrKind& k : kKinds)
        if (k.code == e) return &k;
    return nullptr;
}

}  // namespace

const char* err_name(Err e) {
    const ErrKind* k = kind_of(e);
    return k ? k->name : "unknown";
}

const char* err_meaning(Err e) {
    const ErrKind* k = kind_of(e);
    return k ? k->meaning : "unknown error";
}

Status Status::error(Err code, const char* fmt, ...) {
    Status s;
    s.code_ = code;
    va_list ap;
    va_start(ap, fmt);
    format_v(s.message_, kMessageSize, fmt, ap);
    va_end(ap);
    return s;
}

}  // namespace kho
