#include "status.h"

#include <stdarg.h>

#include "format.h"

namespace kho {

const char* err_name(Err e) {
    switch (e) {
    case Err::Ok: return "ok";
    case Err::BadFdt: return "bad-fdt";
    case Err::BadVersion: return "bad-version";
    case Err::BadProperty: return "bad-property";
    case Err::BadPointer: return "bad-pointer";
    case Err::BadMap: return "bad-map";
    case Err::OutOfRam: return "out-of-ram";
    case Err::Capacity: return "capacity";
    case Err::Conflict: return "kho-conflict";
    case Err::Overlap: return "kho-overlap";
    case Err::NoSpace: return "no-space";
    case Err::BadImage: return "bad-image";
    case Err::BadDescriptor: return "bad-descriptor";
    case Err::BadEntry: return "bad-entry";
    case Err::Stale: return "stale-state";
    case Err::Io: return "io";
    case Err::Integrity: return "kho-integrity";
    case Err::AttemptFailed: return "kho-attempt-failed";
    }
    return "unknown";
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
