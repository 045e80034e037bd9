// Status and Result<T>: an error code plus one short, precise message
// naming the offending address or property. No exceptions in loader/.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace kho {

enum class Err : uint8_t {
    Ok = 0,
    BadFdt,          // FDT header/structure invalid
    BadVersion,      // unknown or unsupported compatible
    BadProperty,     // missing/malformed KHO property
    BadPointer,      // map pointer null, unaligned, or reached twice
    BadMap,          // map content invalid (order, depth, counts)
    OutOfRam,        // pointer or range not backed by known RAM
    Capacity,        // a caller-provided buffer is too small
    Conflict,        // protected memory owned by firmware
    Overlap,         // preserved memory inside scratch
    NoSpace,         // scratch / RAM too small for what must be placed
    BadImage,        // kernel image invalid
    BadDescriptor,   // handover descriptor invalid
    BadEntry,        // boot entry invalid
    Stale,           // state no longer in RAM (cold power cycle)
    Io,              // firmware or file I/O failed
    Integrity,       // preserved bytes differ from the producer's manifest
    AttemptFailed,   // an earlier boot of this state never reached its kernel
    Clobbered,       // preserved memory the RAM-retention probe saw the firmware rewrite
    Unverified,      // the kernel failed Secure Boot verification (db/dbx, shim)
};

// The error kind's protocol name ("kho-bad-map", "no-space", ...), the one
// vocabulary of khoboot's serial lines, KhoBootStatus and khotool, and a
// one-line meaning for documentation (loader/status.cpp, the table).
const char* err_name(Err e);
const char* err_meaning(Err e);

class Status {
public:
    static constexpr size_t kMessageSize = 160;

    // Only the first message byte is cleared: Status is returned by every
    // sink and RangeSet call on the decoders' hot path, where zero-filling
    // the whole message cost more than the decoding itself.
    Status() { message_[0] = '\0'; }
    static Status ok() { return Status(); }
    // printf-style: supports %s %u %d %lu %llu %x %lx %llx %zu %c and %%.
    static Status error(Err code, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

    bool is_ok() const { return code_ == Err::Ok; }
    explicit operator bool() const { return is_ok(); }
    Err code() const { return code_; }
    const char* message() const { return message_; }

private:
    Err code_ = Err::Ok;
    char message_[kMessageSize];
};

template <typename T>
class Result {
public:
    Result(const T& value) : value_(value) {}
    Result(const Status& status) : status_(status) {}
    bool is_ok() const { return status_.is_ok(); }
    explicit operator bool() const { return is_ok(); }
    const Status& status() const { return status_; }
    const T& value() const { return value_; }
    T& value() { return value_; }

private:
    Status status_;
    T value_{};
};

#define KHO_TRY(expr)                          \
    do {                                       \
        ::kho::Status kho_try_s_ = (expr);     \
        if (!kho_try_s_.is_ok()) return kho_try_s_; \
    } while (0)

}  // namespace kho
