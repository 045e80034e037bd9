// What kho-verify=full costs: verify_manifest() over a 256 MiB state held
// in host memory, once as 64 blocks of 4 MiB (the checksum itself) and once
// as 65536 single pages (adds the per-entry cost: one view() and one CRC
// restart per 4 KiB), for a version 1 manifest (CRC-32, slicing-by-8) and a
// version 2 one (CRC-32C, the hardware path when the CPU has one). The same
// code runs in khoboot; under QEMU TCG it is about 5x slower (the in-guest
// figure is the `KHOBOOT: verify ... us=` line of the integrity scenarios).
// The checksums alone against a plain read: bench_crc.cpp, run from here.
//
// Output, one line per case:
//   BENCH verify-<crc32|crc32c> <case> entries=<n> bytes=<n> ms=<t> MiB/s=<x> ms/GiB=<y>
// Times are thread CPU time, best of five; printed, never asserted.
#include "bench_verify.h"

#include "bench_crc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>
#include <vector>

#include "abi/integrity_manifest.h"
#include "loader/integrity_manifest.h"
#include "loader/phys_mem.h"

namespace {

namespace m = kho::abi::manifest;

constexpr uint64_t kBase = 0x100000000ull;
constexpr uint64_t kBytes = 256ull << 20;

class HostRam : public kho::PhysMem {
public:
    HostRam() : bytes_(static_cast<uint8_t*>(malloc(kBytes))) {
        if (!bytes_) abort();
        // Not zero: a CRC over a calloc'd region would read shared zero pages.
        uint64_t x = 0x9e3779b97f4a7c15ull;
        for (uint64_t i = 0; i < kBytes; i += 8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            memcpy(bytes_ + i, &x, 8);
        }
    }
    ~HostRam() override { free(bytes_); }
    const uint8_t* view(uint64_t addr, uint64_t len) const override {
        if (addr < kBase || len > kBytes || addr - kBase > kBytes - len) return nullptr;
        return bytes_ + (addr - kBase);
    }
    bool is_ram(uint64_t addr, uint64_t len) const override { return view(addr, len) != nullptr; }

private:
    uint8_t* bytes_;
};

// The thread's CPU time: on the shared build machine wall time would count
// the slices other processes ran in.
double cpu_ms() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) * 1e-6;
}

bool run_case(const HostRam& ram, uint32_t version, const char* name, uint64_t entry_size, int reps) {
    uint32_t count = uint32_t(kBytes / entry_size);
    std::vector<m::Entry> entries(count);
    for (uint32_t i = 0; i < count; ++i)
        if (!kho::make_manifest_entry_as(version, ram, kBase + i * entry_size, entry_size, m::kKindData,
                                         &entries[i]))
            return false;
    std::vector<uint8_t> bytes(sizeof(m::Header) + count * sizeof(m::Entry));
    size_t n = 0;
    kho::ManifestView view;
    if (!kho::build_manifest_as(version, entries.data(), count, bytes.data(), bytes.size(), &n) ||
        !kho::parse_manifest(bytes.data(), n, &view))
        return false;
    double best = 1e30;
    for (int r = 0; r < reps; ++r) {
        kho::VerifyStats stats;
        const double t0 = cpu_ms();
        kho::Status s = kho::verify_manifest(ram, view, kho::VerifyLevel::Full, &stats);
        const double ms = cpu_ms() - t0;
        if (!s || stats.bytes != kBytes) {
            fprintf(stderr, "bench: verify %s failed: %s\n", name, s.message());
            return false;
        }
        if (ms < best) best = ms;
    }
    double mib_s = (kBytes / double(1 << 20)) / (best / 1000.0);
    printf("BENCH verify-%s %s entries=%u bytes=%llu ms=%.1f MiB/s=%.0f ms/GiB=%.0f\n",
           version == m::kVersionCrc32 ? "crc32" : "crc32c", name, count,
           (unsigned long long)kBytes, best, mib_s, 1024.0 * 1000.0 / mib_s);
    fflush(stdout);
    return true;
}

}  // namespace

bool run_verify_benchmarks() {
    HostRam ram;
    bool ok = true;
    for (uint32_t version : {m::kVersionCrc32, m::kVersionCrc32c}) {
        ok &= run_case(ram, version, "blocks-4M", 4ull << 20, 5);
        ok &= run_case(ram, version, "pages-4K", 4096, 5);
    }
    return run_crc_benchmarks() && ok;
}
