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

uint64_t* identity_pml4() { return g_pml4.e; }

}  // namespace tk
