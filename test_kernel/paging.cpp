#include "paging.h"

#include "io.h"

namespace tk {
namespace {

constexpr uint64_t kPresentWritable = 0x3;
constexpr uint64_t kLargePage = 0x80;
constexpr uint64_t kGiB = 1ull << 30;
constexpr unsigned kPdCount = kIdentityLimit / kGiB;

struct alignas(4096) Table {
    uint64_t e[512];
};
Table g_pml4;
Table g_pdpt;
Table g_pd[kPdCount];

// Tables for map_page(): a PDPT, a PD and a PT per 2 MiB of mapped
// virtual space at most; UEFI runtime regions need a few dozen.
constexpr unsigned kPoolTables = 96;
Table g_pool[kPoolTables];
unsigned g_pool_used;

constexpr uint64_t kAddrMask = 0x000ffffffffff000ull;
constexpr uint64_t kCacheDisable = 0x18;  // PWT | PCD: uncached

// The next-level table of entry `e`, made on first use.
Table* next_table(uint64_t* e) {
    if (*e & 1) return reinterpret_cast<Table*>(*e & kAddrMask);
    if (g_pool_used == kPoolTables) return nullptr;
    Table* t = &g_pool[g_pool_used++];
    for (uint64_t& x : t->e) x = 0;
    *e = reinterpret_cast<uint64_t>(t) | kPresentWritable;
    return t;
}

}  // namespace

void paging_init() {
    for (unsigned i = 0; i < kPdCount; ++i) {
        for (unsigned j = 0; j < 512; ++j)
            g_pd[i].e[j] = (uint64_t(i) * kGiB + uint64_t(j) * (2ull << 20)) | kPresentWritable |
                           kLargePage;
        // Identity map: the table's virtual address is its physical address.
        g_pdpt.e[i] = reinterpret_cast<uint64_t>(&g_pd[i]) | kPresentWritable;
    }
    g_pml4.e[0] = reinterpret_cast<uint64_t>(&g_pdpt) | kPresentWritable;
    write_cr3(reinterpret_cast<uint64_t>(&g_pml4));
}

bool map_page(uint64_t va, uint64_t pa, bool uncached) {
    if (va < kIdentityLimit) return false;
    unsigned i4 = (va >> 39) & 511, i3 = (va >> 30) & 511, i2 = (va >> 21) & 511, i1 = (va >> 12) & 511;
    Table* pdpt = next_table(&g_pml4.e[i4]);
    Table* pd = pdpt ? next_table(&pdpt->e[i3]) : nullptr;
    if (!pd || (pd->e[i2] & kLargePage)) return false;
    Table* pt = next_table(&pd->e[i2]);
    if (!pt) return false;
    pt->e[i1] = (pa & kAddrMask) | kPresentWritable | (uncached ? kCacheDisable : 0);
    // The entry may replace one a TLB holds (a region mapped twice).
    asm volatile("invlpg (%0)" ::"r"(va) : "memory");
    return true;
}

}  // namespace tk
