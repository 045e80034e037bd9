#include "page_map.h"

#include "../test_kernel/paging.h"

namespace handoff {
namespace {

struct alignas(4096) Table {
    uint64_t e[512];
};

// A PDPT, a PD and a PT per 2 MiB of mapped virtual space at most; OVMF's
// runtime regions need a few dozen.
constexpr unsigned kPoolTables = 96;
Table g_pool[kPoolTables];
unsigned g_pool_used;

constexpr uint64_t kPresentWritable = 0x3;
constexpr uint64_t kLargePage = 0x80;
constexpr uint64_t kCacheDisable = 0x18;  // PWT | PCD: uncached
constexpr uint64_t kAddrMask = 0x000ffffffffff000ull;

// The next-level table of entry `e`, made on first use (identity-mapped
// .bss: its virtual address is its physical address).
uint64_t* next_table(uint64_t* e) {
    if (*e & 1) return reinterpret_cast<uint64_t*>(*e & kAddrMask);
    if (g_pool_used == kPoolTables) return nullptr;
    Table* t = &g_pool[g_pool_used++];
    for (uint64_t& x : t->e) x = 0;
    *e = reinterpret_cast<uint64_t>(t) | kPresentWritable;
    return t->e;
}

}  // namespace

bool map_page(uint64_t va, uint64_t pa, bool uncached) {
    if (va < tk::kIdentityLimit) return false;
    unsigned i4 = (va >> 39) & 511, i3 = (va >> 30) & 511, i2 = (va >> 21) & 511, i1 = (va >> 12) & 511;
    uint64_t* pdpt = next_table(&tk::identity_pml4()[i4]);
    uint64_t* pd = pdpt ? next_table(&pdpt[i3]) : nullptr;
    if (!pd || (pd[i2] & kLargePage)) return false;
    uint64_t* pt = next_table(&pd[i2]);
    if (!pt) return false;
    pt[i1] = (pa & kAddrMask) | kPresentWritable | (uncached ? kCacheDisable : 0);
    // The entry may replace one a TLB holds (a region mapped twice).
    asm volatile("invlpg (%0)" ::"r"(va) : "memory");
    return true;
}

}  // namespace handoff
