#include "kernel_placement.h"

#include "../abi/efi_memory.h"
#include "../abi/kho_scratch.h"
#include "../abi/x86_boot.h"

namespace kho {

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t k4GiB = 1ull << 32;

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

// Largest free range and total of `space` within [min, max_end), for the
// NoSpace message.
void describe(const RangeSet& space, uint64_t min, uint64_t max_end, uint64_t* largest,
              uint64_t* total) {
    *largest = *total = 0;
    for (const Range& r : space) {
        uint64_t lo = r.start > min ? r.start : min;
        uint64_t hi = r.end < max_end ? r.end : max_end;
        if (hi <= lo) continue;
        *total += hi - lo;
        if (hi - lo > *largest) *largest = hi - lo;
    }
}

// Below 4 GiB first (32-bit fields, and the lowmem scratch region is
// where a kexec'd kernel lands too), then anywhere the limit allows.
bool find_preferring_low(const RangeSet& space, uint64_t size, uint64_t align, uint64_t min,
                         uint64_t max_end, const Range* avoid, size_t n, uint64_t* out) {
    if (max_end > k4GiB && find_top_down(space, size, align, min, k4GiB, avoid, n, out))
        return true;
    return find_top_down(space, size, align, min, max_end, avoid, n, out);
}

}  // namespace

BootDataLayout layout_boot_data(size_t cmdline_bytes, size_t scratch_count,
                                size_t map_descriptors_max, size_t descriptor_size) {
    BootDataLayout l{};
    uint64_t off = 0;
    l.boot_params = off;
    off += sizeof(abi::x86::BootParams);
    l.cmdline = off;
    off = align_up(off + cmdline_bytes + 1, 16);
    l.kho_node = off;
    off = align_up(off + sizeof(abi::x86::SetupData) + sizeof(abi::x86::KhoData), 16);
    l.scratch_table = off;
    off = align_up(off + scratch_count * sizeof(abi::KhoScratch), 16);
    l.e820_ext_capacity = map_descriptors_max > abi::x86::kE820MaxZeroPage
                              ? map_descriptors_max - abi::x86::kE820MaxZeroPage
                              : 0;
    l.e820_ext = off;
    off = align_up(off + sizeof(abi::x86::SetupData) +
                       l.e820_ext_capacity * sizeof(abi::x86::E820Entry),
                   16);
    // Descriptors are read in place by the kernel: keep them 8-aligned.
    l.efi_memmap = off;
    l.memmap_capacity = uint64_t(map_descriptors_max) * descriptor_size;
    off += l.memmap_capacity;
    l.size = align_up(off, kPage);
    return l;
}

Status make_placement_request(const BzImage& image, uint64_t initrd_total, uint64_t boot_data_size,
                              PlacementRequest* out) {
    PlacementRequest q{};
    q.kernel_size = image.init_size;
    q.kernel_align = image.alignment;
    q.kernel_min = image.min_load;
    q.kernel_max_end = image.max_end;
    q.initrd_size = initrd_total;
    q.initrd_max_end = image.initrd_max_end;
    q.boot_data_size = boot_data_size;
    q.boot_data_max_end = k4GiB;
    *out = q;
    return Status::ok();
}

bool find_top_down(const RangeSet& space, uint64_t size, uint64_t align, uint64_t min,
                   uint64_t max_end, const Range* avoid, size_t avoid_count, uint64_t* out) {
    if (size == 0 || align == 0 || (align & (align - 1))) return false;
    for (size_t i = space.size(); i-- > 0;) {
        const Range& r = space[i];
        uint64_t lo = r.start > min ? r.start : min;
        uint64_t hi = r.end < max_end ? r.end : max_end;
        while (hi > lo && hi - lo >= size) {
            uint64_t cand = (hi - size) & ~(align - 1);
            if (cand < lo) break;
            // Lower `hi` below every avoid range this candidate touches.
            uint64_t clash = UINT64_MAX;
            for (size_t a = 0; a < avoid_count; a++) {
                const Range& v = avoid[a];
                if (!v.empty() && v.start < cand + size && cand < v.end && v.start < clash)
                    clash = v.start;
            }
            if (clash == UINT64_MAX) {
                *out = cand;
                return true;
            }
            hi = clash;
        }
    }
    return false;
}

Status place_boot_images(const RangeSet& image_space, const RangeSet& data_space,
                         const PlacementRequest& q, const char* space_name, Placement* out) {
    Placement p{};
    uint64_t largest, total;
    if (!find_preferring_low(image_space, q.kernel_size, q.kernel_align, q.kernel_min,
                             q.kernel_max_end, nullptr, 0, &p.kernel)) {
        describe(image_space, q.kernel_min, q.kernel_max_end, &largest, &total);
        return Status::error(Err::NoSpace,
                             "kernel needs 0x%llx bytes aligned 0x%llx above 0x%llx; free %s: "
                             "largest 0x%llx, total 0x%llx",
                             (unsigned long long)q.kernel_size, (unsigned long long)q.kernel_align,
                             (unsigned long long)q.kernel_min, space_name,
                             (unsigned long long)largest, (unsigned long long)total);
    }
    Range avoid[2] = {{p.kernel, p.kernel + q.kernel_size}, {0, 0}};
    if (q.initrd_size) {
        if (!find_preferring_low(image_space, q.initrd_size, kPage, 0, q.initrd_max_end, avoid, 1,
                                 &p.initrd)) {
            describe(image_space, 0, q.initrd_max_end, &largest, &total);
            return Status::error(Err::NoSpace,
                                 "initrd needs 0x%llx bytes beside the kernel's 0x%llx; free %s: "
                                 "largest 0x%llx, total 0x%llx",
                                 (unsigned long long)q.initrd_size,
                                 (unsigned long long)q.kernel_size, space_name,
                                 (unsigned long long)largest, (unsigned long long)total);
        }
        avoid[1] = {p.initrd, p.initrd + q.initrd_size};
    }
    // Boot data never goes in image space: inside scratch the consumer's
    // decompressor may randomise its output over the scratch table before
    // kho_populate() reads it (mem_avoid does not cover it).
    if (!find_preferring_low(data_space, q.boot_data_size, kPage, kPage, q.boot_data_max_end, avoid,
                             2, &p.boot_data)) {
        describe(data_space, kPage, q.boot_data_max_end, &largest, &total);
        return Status::error(Err::NoSpace,
                             "boot data needs 0x%llx bytes below 0x%llx outside %s; free: largest "
                             "0x%llx, total 0x%llx",
                             (unsigned long long)q.boot_data_size,
                             (unsigned long long)q.boot_data_max_end, space_name,
                             (unsigned long long)largest, (unsigned long long)total);
    }
    *out = p;
    return Status::ok();
}

}  // namespace kho
