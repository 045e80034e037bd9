// What the libFuzzer targets share: the EFI app's capacities, physical
// memory made of the fuzzer's bytes, and a sink that checks what the map
// decoders stream out.
//
// RAM content is the input repeated: the bytes, padded to a power-of-two
// period, repeat every period from an origin. A 64 KiB input thus fills
// gigabytes of RAM, and a map can name tens of thousands of distinct map
// pages (each an alias of an input page), enough to reach the capacities
// below; pointers the fuzzer writes (small, page-aligned values found by
// comparison tracing) land in RAM, anything else fails cleanly. A view
// must not cross a period boundary (each period is one "region" in
// PhysMem's terms), which is what a RAM dump split into files looks like.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader/loader_limits.h"
#include "loader/memory_plan.h"
#include "loader/page_set.h"
#include "loader/phys_mem.h"
#include "loader/phys_range.h"
#include "loader/protected_set.h"
#include "loader/preserved_memory.h"
#include "loader/range_set.h"
#include "loader/status.h"

namespace kho::fuzz {

// efi/main.cpp's arena (keep in step with it): the fuzzers run the core
// with exactly the storage the EFI app gives it.
inline constexpr size_t kEfiProtectRanges = 1 << 15;  // kProtectRanges: protect, allocate
inline constexpr size_t kEfiVisitedSlots = limits::kVisitedPages;
inline constexpr size_t kEfiRamRanges = 1024;         // g_ram_ranges (EfiPhysMem)
inline constexpr size_t kEfiWorkRanges = 1 << 13;     // g_work
inline constexpr size_t kEfiScratchFree = 512;        // g_scratch_free
inline constexpr size_t kEfiOverlaps = 512;           // g_overlaps
inline constexpr size_t kEfiConflicts = 8;            // g_conflicts
inline constexpr size_t kEfiMapRanges = 1024;         // g_free, g_fw_ram (arena)
inline constexpr size_t kEfiDataSpace = 1 << 13;      // g_data_space (arena)
inline constexpr size_t kEfiMapBytes = limits::kMapBytes;
inline constexpr size_t kEfiMapSlack = 64;            // kMapSlack
inline constexpr size_t kEfiMemblockFdt = 64 * 1024;  // g_memblock_fdt
inline constexpr size_t kEfiReserveRegions = 8;       // g_regions
inline constexpr size_t kEfiCmdline = 8192;           // g_cmdline_buf
inline constexpr uint64_t kPage = 4096;

// FUZZ_TRACE=1 in the environment: each target says how far an input got
// (for seed work and crash triage).
inline void trace(const char* stage, const Status& s) {
    static const bool on = getenv("FUZZ_TRACE") != nullptr;
    if (on) fprintf(stderr, "trace: %s: %s %s\n", stage, err_name(s.code()), s.message());
}

// The input padded to a power-of-two period (at least a page), in
// page-aligned storage so views are aligned as in RAM.
class TiledImage {
public:
    TiledImage(const uint8_t* data, size_t size, uint64_t origin) : origin_(origin) {
        period_ = kPage;
        while (period_ < size) period_ <<= 1;
        bytes_ = static_cast<uint8_t*>(aligned_alloc(kPage, period_));
        memset(bytes_, 0, period_);
        if (size) memcpy(bytes_, data, size);
    }
    ~TiledImage() { free(bytes_); }
    TiledImage(const TiledImage&) = delete;
    TiledImage& operator=(const TiledImage&) = delete;

    // The bytes at [addr, addr + len), if they lie within one period.
    const uint8_t* at(uint64_t addr, uint64_t len) const {
        if (len == 0 || len > period_) return nullptr;
        uint64_t off = (addr - origin_) & (period_ - 1);
        if (off + len > period_) return nullptr;
        return bytes_ + off;
    }
    uint64_t period() const { return period_; }
    uint64_t origin() const { return origin_; }

private:
    uint8_t* bytes_;
    uint64_t period_;
    uint64_t origin_;
};

// RAM is [kBase, kBase + span), the input repeated from kBase.
class FuzzMem : public PhysMem {
public:
    static constexpr uint64_t kBase = 0x1000;
    static constexpr uint64_t kDefaultSpan = 1ull << 36;  // 64 GiB

    FuzzMem(const uint8_t* data, size_t size, uint64_t span = kDefaultSpan)
        : image_(data, size, kBase), span_(span) {}
    const uint8_t* view(uint64_t addr, uint64_t len) const override {
        return is_ram(addr, len) ? image_.at(addr, len) : nullptr;
    }
    bool is_ram(uint64_t addr, uint64_t len) const override {
        return len && addr >= kBase && addr - kBase <= span_ && len <= span_ - (addr - kBase);
    }
    const TiledImage& image() const { return image_; }

private:
    TiledImage image_;
    uint64_t span_;
};

// EfiPhysMem's logic (efi/firmware_memory.cpp) over a fuzzed firmware map:
// RAM is what kho::firmware_ram() lists as RAM, page 0 never yields a
// view, and the bytes are the input repeated from `origin`.
class FirmwareMem : public PhysMem {
public:
    FirmwareMem(const uint8_t* data, size_t size, uint64_t origin)
        : image_(data, size, origin), ram_(g_ram, kEfiRamRanges), free_(g_free, kEfiRamRanges) {}
    Status load(const FirmwareMemoryMap& map) { return firmware_ram(map, ram_, free_); }
    const uint8_t* view(uint64_t addr, uint64_t len) const override {
        if (addr < kPage || !is_ram(addr, len)) return nullptr;
        return image_.at(addr, len);
    }
    bool is_ram(uint64_t addr, uint64_t len) const override {
        uint64_t end;
        if (len == 0 || __builtin_add_overflow(addr, len, &end)) return false;
        return ram_.contains(addr, end);
    }
    const RangeSet& ram() const { return ram_; }
    const RangeSet& free_memory() const { return free_; }
    const TiledImage& image() const { return image_; }

private:
    static inline Range g_ram[kEfiRamRanges], g_free[kEfiRamRanges];
    TiledImage image_;
    RangeSet ram_, free_;
};

// Sits between a decoder (or collect_protected's counter) and the sink
// that feeds the protected set, and checks each step:
//  - a bounded step count: every metadata page is a distinct page the
//    decoder visited (at most the visited set's capacity), and every
//    blocks() call is one run of set bits in a bitmap already reported as
//    metadata, so there are at most 32768 (a page of bits) per page;
//  - every run is non-empty and ends inside the 52-bit physical space;
//  - every metadata object is RAM the decoder could read.
// It also records every block and metadata page independently of the
// protected set, for checks after the fact ("every decoded block is
// protected or reported").
class StepSink : public PreservedMemorySink {
public:
    static constexpr uint64_t kStepsPerPage = 8 * kPage;
    static constexpr size_t kRecord = 1 << 17;

    StepSink(PreservedMemorySink& next, const PhysMem& mem, size_t page_capacity)
        : next_(next), mem_(mem), page_capacity_(page_capacity), blocks_(g_blocks, kRecord),
          meta_(g_meta, kRecord) {}

    Status blocks(uint64_t phys, unsigned order, uint64_t count) override {
        ++block_calls_;
        if (block_calls_ > kStepsPerPage * metadata_calls_) __builtin_trap();
        Range r;
        if (count == 0 || order > 40 || !block_span(phys, count, kPage << order, &r) ||
            !below_phys_limit(r) || (phys & ((kPage << order) - 1)))
            __builtin_trap();
        record(blocks_, r);
        return next_.blocks(phys, order, count);
    }
    Status metadata(uint64_t phys, uint64_t size) override {
        if (++metadata_calls_ > page_capacity_) __builtin_trap();
        if ((size != kPage && size != 512) || (phys & (size - 1)) || !mem_.is_ram(phys, size))
            __builtin_trap();
        record(meta_, Range{phys & ~(kPage - 1), (phys & ~(kPage - 1)) + kPage});
        return next_.metadata(phys, size);
    }

    // The records; complete() is false when one overflowed.
    const RangeSet& recorded_blocks() {
        blocks_.normalize();
        return blocks_;
    }
    const RangeSet& recorded_metadata() {
        meta_.normalize();
        return meta_;
    }
    bool complete() const { return complete_; }
    uint64_t steps() const { return block_calls_ + metadata_calls_; }

private:
    void record(RangeSet& set, const Range& r) {
        if (complete_ && !set.add(r)) complete_ = false;
    }

    static inline Range g_blocks[kRecord], g_meta[kRecord];
    PreservedMemorySink& next_;
    const PhysMem& mem_;
    size_t page_capacity_;
    RangeSet blocks_, meta_;
    uint64_t block_calls_ = 0, metadata_calls_ = 0;
    bool complete_ = true;
};

// What both map-decoder targets decode into, with the EFI app's storage:
// one protected set of kEfiProtectRanges for blocks and map pages (as
// protect_state() feeds it) and kEfiVisitedSlots visited slots.
class DecodeTarget {
public:
    explicit DecodeTarget(const PhysMem& mem)
        : protect_(g_protect, kEfiProtectRanges), visited_(g_slots, kEfiVisitedSlots),
          into_set_(protect_, protect_), guard_(into_set_, protect_),
          steps_(guard_, mem, kEfiVisitedSlots) {}
    PageSet& visited() { return visited_; }
    PreservedMemorySink& sink() { return steps_; }

    // An accepted map: everything it named is in the set, inside 2^52.
    void check_accepted() {
        protect_.normalize();
        for (const Range& r : protect_)
            if (r.end > kPhysLimit || r.end <= r.start) __builtin_trap();
        if (!steps_.complete()) return;
        for (const Range& r : steps_.recorded_blocks())
            if (!protect_.contains(r.start, r.end)) __builtin_trap();
        for (const Range& r : steps_.recorded_metadata())
            if (!protect_.contains(r.start, r.end)) __builtin_trap();
    }

private:
    static inline Range g_protect[kEfiProtectRanges];
    static inline uint64_t g_slots[kEfiVisitedSlots];
    RangeSet protect_;
    PageSet visited_;
    RangeSetSink into_set_;
    DoubleClaimGuard guard_;  // the loader stops at the first double claim too
    StepSink steps_;
};

// Little-endian fields off the front of the input; zeros past its end.
class Reader {
public:
    Reader(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
    template <typename T>
    T take() {
        T v{};
        size_t n = left() < sizeof(T) ? left() : sizeof(T);
        memcpy(&v, p_, n);
        p_ += n;
        return v;
    }
    // Up to n bytes: *out points at them, the count is returned.
    size_t bytes(size_t n, const uint8_t** out) {
        *out = p_;
        if (n > left()) n = left();
        p_ += n;
        return n;
    }
    size_t left() const { return size_t(end_ - p_); }
    const uint8_t* pos() const { return p_; }

private:
    const uint8_t* p_;
    const uint8_t* end_;
};

}  // namespace kho::fuzz
