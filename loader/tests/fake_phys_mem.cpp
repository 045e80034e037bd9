#include "loader/tests/fake_phys_mem.h"

#include <stdlib.h>
#include <string.h>

#include <algorithm>

namespace khotest {

namespace {
// [addr, addr + len) as a half-open range, or false if it wraps past 2^64.
bool span(uint64_t addr, uint64_t len, uint64_t* end) {
    if (len > UINT64_MAX - addr) return false;
    *end = addr + len;
    return true;
}
}  // namespace

bool FakePhysMem::add_backed(uint64_t base, uint64_t size) {
    uint64_t end;
    if (size == 0 || !span(base, size, &end)) return false;
    for (const auto& [b, r] : backed_) {
        if (base < r.base + r.size && r.base < end) return false;
    }
    void* p = calloc(1, size);
    if (!p) return false;
    backed_.emplace(base, Region{base, size, {static_cast<uint8_t*>(p), free}});
    return true;
}

void FakePhysMem::declare_ram(uint64_t base, uint64_t size) {
    uint64_t end;
    if (size == 0 || !span(base, size, &end)) return;
    declared_.emplace_back(base, end);
}

const FakePhysMem::Region* FakePhysMem::find_backed(uint64_t addr, uint64_t len) const {
    uint64_t end;
    if (!span(addr, len, &end)) return nullptr;
    auto it = backed_.upper_bound(addr);
    if (it == backed_.begin()) return nullptr;
    --it;
    const Region& r = it->second;
    if (addr < r.base || end > r.base + r.size) return nullptr;
    return &r;
}

const uint8_t* FakePhysMem::view(uint64_t addr, uint64_t len) const {
    ++view_calls_;
    const Region* r = find_backed(addr, len);
    return r ? r->bytes.get() + (addr - r->base) : nullptr;
}

uint8_t* FakePhysMem::mutable_view(uint64_t addr, uint64_t len) {
    const Region* r = find_backed(addr, len);
    return r ? r->bytes.get() + (addr - r->base) : nullptr;
}

bool FakePhysMem::write(uint64_t addr, const void* src, uint64_t len) {
    uint8_t* dst = mutable_view(addr, len);
    if (!dst) return false;
    memcpy(dst, src, len);
    return true;
}

uint64_t FakePhysMem::peek_u64(uint64_t addr) const {
    const Region* r = find_backed(addr, 8);
    if (!r) abort();
    uint64_t v;
    memcpy(&v, r->bytes.get() + (addr - r->base), 8);
    return v;
}

bool FakePhysMem::is_ram(uint64_t addr, uint64_t len) const {
    uint64_t end;
    if (!span(addr, len, &end)) return false;
    if (len == 0) return find_backed(addr, 0) != nullptr;
    // Collect every known range, then check coverage of [addr, end) in
    // address order (ranges may touch: RAM may span regions).
    std::vector<std::pair<uint64_t, uint64_t>> all(declared_);
    for (const auto& [b, r] : backed_) all.emplace_back(r.base, r.base + r.size);
    std::sort(all.begin(), all.end());
    uint64_t pos = addr;
    for (const auto& [s, e] : all) {
        if (e <= pos) continue;
        if (s > pos) return false;
        pos = e;
        if (pos >= end) return true;
    }
    return false;
}

}  // namespace khotest
