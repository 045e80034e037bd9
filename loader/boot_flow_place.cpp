// Step 6 of a boot (boot_flow.h): the kernel's header, the command line,
// where the kernel, initrd and boot data go, and the files read there.
// The fallback ladder lives here: a handover that cannot be prepared
// (command line, no room in scratch) falls back to a cold boot when the
// entry's kho-on-error allows it.
#include "boot_flow.h"

#include "cmdline.h"

namespace kho {

namespace {

constexpr size_t kMapSlack = 64;  // descriptors our own allocations may add

uint64_t page_up(uint64_t v) { return (v + abi::kPageSize - 1) & ~(abi::kPageSize - 1); }

}  // namespace

// `may_use_pool`: false while a refused state's ranges are still to be kept
// clear (the pool could land on them); the context must do then.
Status BootFlow::map_storage(bool may_use_pool, MapStorage* out) {
    size_t count = 0, dsize = 0;
    KHO_TRY(fw_.memory_map_size(&count, &dsize));
    // Room for the splits our own allocations cause before the final map.
    const size_t want = 2 * count + 2 * kMapSlack;
    const size_t want_data = want + protect_.size() + allocate_.size();
    *out = MapStorage{c_.map_buf, sizeof(c_.map_buf), c_.fw_ram, c_.free, BootContext::kMapDescriptors,
                      c_.data_space, sizeof(c_.data_space) / sizeof(c_.data_space[0]), c_.work,
                      sizeof(c_.work) / sizeof(c_.work[0]), c_.e820, BootContext::kMapDescriptors};
    if (want * dsize <= out->map_bytes && want <= out->ranges && 2 * want <= out->work_ranges &&
        want <= out->e820_capacity && want_data <= out->data_ranges)
        return Status::ok();
    if (!may_use_pool)
        return Status::error(Err::Capacity, "memory map of %zu descriptors exceeds the arena", count);
    // One pool block: the map, then fw_ram, free_mem, work (2x), data
    // space, then the e820 table (Range and E820Entry are both 8-aligned).
    static_assert(alignof(Range) <= 8 && alignof(abi::x86::E820Entry) <= 8);
    const size_t map_bytes = (want * dsize + 7) & ~size_t(7);
    const size_t bytes = map_bytes + (4 * want + want_data) * sizeof(Range) +
                         want * sizeof(abi::x86::E820Entry);
    void* p = nullptr;
    KHO_TRY(fw_.allocate_pool(bytes, &p));
    auto* base = static_cast<uint8_t*>(p);
    Range* r = reinterpret_cast<Range*>(base + map_bytes);
    Range* data = r + 4 * want;
    *out = MapStorage{base, map_bytes, r, r + want, want, data, want_data, r + 2 * want, 2 * want,
                      reinterpret_cast<abi::x86::E820Entry*>(data + want_data), want};
    log("storage pool descriptors=%zu bytes=%zu", count, bytes);
    return Status::ok();
}

// The kernel is the whole file, or a UKI's .linux section (uki.h), whose
// bounds parse_uki() checked against the file.
Status BootFlow::read_kernel_header(BzImage* image, uint64_t* file_size) {
    KHO_TRY(fw_.file_size(c_.entry.linux_path, file_size));
    if (c_.entry.linux_size) *file_size = c_.entry.linux_size;
    uint64_t n = *file_size < sizeof(c_.kernel_prefix) ? *file_size : sizeof(c_.kernel_prefix);
    KHO_TRY(fw_.read_file(c_.entry.linux_path, c_.entry.linux_offset, c_.kernel_prefix, n));
    Status s = protocol_.read_kernel(c_.kernel_prefix, n, *file_size, image);
    if (!s) return Status::error(Err::BadImage, "%s: %s", c_.entry.linux_path, s.message());
    return Status::ok();
}

Status BootFlow::build_cmdline(bool handover, const BzImage& image, CommandLine& cl) {
    KHO_TRY(cl.set(c_.entry.options));
    if (handover) {
        size_t n = 0;
        KHO_TRY(read_reserve_mem_regions(fw_.ram(), c_.state, c_.memblock_fdt, sizeof(c_.memblock_fdt),
                                         c_.regions, sizeof(c_.regions) / sizeof(c_.regions[0]), &n));
        KhoCmdlineEdits edits;
        KHO_TRY(add_kho_parameters(cl, c_.regions, n, &edits));
        if (edits.kho_disabled)
            log("warn options turn kho off: the next kernel will ignore the handed-over state");
    }
    if (cl.length() > image.cmdline_max)
        return Status::error(Err::BadEntry, "command line is %zu bytes, the kernel takes %u", cl.length(),
                             image.cmdline_max);
    return Status::ok();
}

// Where the kernel and initrd (image space) and the boot data (data space)
// may go. A handover: free scratch for the images; for the boot data free
// RAM outside scratch, and with `hull_gaps` also the gaps inside the
// protection hulls, which are already ours (protection_plan.h: a
// fragmented state's hulls can cover most RAM outside scratch). The gaps
// are one range per preserved range, so they are only computed when free
// RAM alone has no room. `avoid_state` (cold boots only): off every range
// a refused state claims, as far as it was decoded.
Status BootFlow::placement_spaces(bool handover, bool avoid_state, bool hull_gaps, const RangeSet& free_mem,
                                  MapStorage& st, RangeSet& data_space, const RangeSet** image_space) {
    *image_space = &free_mem;
    if (handover && kho_.multikernel) {
        // multikernel-v1 has no scratch: free RAM, which no longer
        // includes the protected ranges (they are LoaderData now).
        KHO_TRY(data_space.add_all(free_mem));
    } else if (handover) {
        KHO_TRY(scratch_.intersect(free_mem, scratch_free_));
        *image_space = &scratch_free_;
        if (hull_gaps) KHO_TRY(allocate_.subtract(protect_, data_space));
        RangeSet outside(st.work, st.work_ranges);
        KHO_TRY(free_mem.subtract(scratch_, outside));
        KHO_TRY(data_space.add_all(outside));
    } else if (avoid_state) {
        KHO_TRY(free_mem.subtract(protect_, data_space));
        *image_space = &data_space;
    } else {
        KHO_TRY(data_space.add_all(free_mem));
    }
    data_space.normalize();
    return Status::ok();
}

// AllocatePages for the parts of `r` that are not ours already (inside a
// protection hull); false and nothing kept if any part fails.
bool BootFlow::allocate_unless_ours(const Range& r, uint32_t type) {
    Range one[1], parts_buf[8];
    RangeSet whole(one, 1), parts(parts_buf, 8);
    if (!whole.add(r) || !whole.subtract(allocate_, parts)) return false;
    for (size_t i = 0; i < parts.size(); i++) {
        if (fw_.allocate_at(parts[i].start, parts[i].end, type)) continue;
        for (size_t j = 0; j < i; j++) fw_.free_at(parts[j].start, parts[j].end);
        return false;
    }
    return true;
}

// Allocates a placement: all three or none.
Status BootFlow::allocate_placement(const Placement& p, uint64_t kernel_size, uint64_t initrd_size,
                                    uint64_t boot_data_size) {
    KHO_TRY(fw_.allocate_at(p.kernel, p.kernel + kernel_size, abi::efi::kLoaderCode));
    if (initrd_size) {
        Status s = fw_.allocate_at(p.initrd, p.initrd + initrd_size, abi::efi::kLoaderData);
        if (!s) {
            fw_.free_at(p.kernel, p.kernel + kernel_size);
            return s;
        }
    }
    if (allocate_unless_ours(Range{p.boot_data, p.boot_data + boot_data_size}, abi::efi::kLoaderData))
        return Status::ok();
    fw_.free_at(p.kernel, p.kernel + kernel_size);
    if (initrd_size) fw_.free_at(p.initrd, p.initrd + initrd_size);
    return Status::error(Err::Conflict, "boot data 0x%llx+0x%llx was taken", (unsigned long long)p.boot_data,
                         (unsigned long long)boot_data_size);
}

// Addresses for the kernel, initrd and boot data in the map `map` (not
// yet allocated). Boot data of a handover goes in the hull gaps only when
// free RAM outside scratch has no room for it.
Status BootFlow::choose_placement(bool handover, bool avoid_state, const MemoryMapSnapshot& map,
                                  const BzImage& image, uint64_t initrd_total, size_t cmdline_len,
                                  LoadedImages* out, Placement* p) {
    MapStorage& st = out->storage;
    RangeSet fw_ram(st.fw_ram, st.ranges), free_mem(st.free_mem, st.ranges);
    KHO_TRY(firmware_ram(map.view, fw_ram, free_mem));
    out->scratch_count = handover && !kho_.multikernel ? c_.desc.scratch_count : 0;
    // Room for the final map to double: file reads, variable writes and
    // the console all allocate before ExitBootServices().
    out->layout = protocol_.layout(cmdline_len, out->scratch_count, 2 * map.view.count + kMapSlack,
                                   map.view.stride, facts_);
    PlacementRequest q;
    KHO_TRY(make_placement_request(image, initrd_total, out->layout.size, &q));
    const bool gaps_may_help = handover && !kho_.multikernel && allocate_.size();
    Status s = Status::ok();
    for (int pass = 0; pass < 2; pass++) {
        const bool hull_gaps = pass == 1;
        if (hull_gaps && !gaps_may_help) break;
        RangeSet data_space(st.data_space, st.data_ranges);
        const RangeSet* image_space = nullptr;
        KHO_TRY(placement_spaces(handover, avoid_state, hull_gaps, free_mem, st, data_space, &image_space));
        s = place_boot_images(*image_space, data_space, q, handover ? "scratch" : "RAM", p);
        if (s || s.code() != Err::NoSpace) return s;
    }
    return s;
}

// Chooses addresses (in scratch for a handover) and allocates them. A few
// tries: the firmware's own pool growth between the map snapshot and the
// allocation can take a chosen page.
Status BootFlow::place(bool handover, const BzImage& image, uint64_t initrd_total, size_t cmdline_len,
                       LoadedImages* out, bool avoid_state) {
    Status last = Status::ok();
    MapStorage& st = out->storage;
    KHO_TRY(map_storage(!avoid_state, &st));
    for (int attempt = 0; attempt < 3; attempt++) {
        MemoryMapSnapshot map;
        KHO_TRY(fw_.memory_map(st.map, st.map_bytes, &map));
        Placement p;
        KHO_TRY(choose_placement(handover, avoid_state, map, image, initrd_total, cmdline_len, out, &p));
        last = allocate_placement(p, image.init_size, initrd_total, out->layout.size);
        if (!last) continue;
        out->kernel = p.kernel;
        out->initrd = p.initrd;
        out->initrd_alloc = initrd_total;
        out->boot_data = p.boot_data;
        return Status::ok();
    }
    return last;
}

// A cold boot: off the named-but-refused state if it fits there, else
// anywhere (the state was given up; the kernel must still boot).
Status BootFlow::place_cold(const BzImage& image, uint64_t initrd_total, size_t cmdline_len,
                            LoadedImages* out) {
    if (kho_.found && protect_.size()) {
        Status s = place(false, image, initrd_total, cmdline_len, out, true);
        if (s) return s;
        log("warn cold boot placed over the refused state: %s", s.message());
    }
    return place(false, image, initrd_total, cmdline_len, out);
}

// The initrds are concatenated page-aligned; the size handed over ends at
// the last byte.
Status BootFlow::initrd_sizes(LoadedImages& l, uint64_t* total) {
    *total = 0;
    if (c_.entry.uki_initrd_size) {  // a UKI's .initrd first, as systemd-stub orders them
        l.initrd_size = c_.entry.uki_initrd_size;
        *total = page_up(c_.entry.uki_initrd_size);
    }
    for (size_t i = 0; i < c_.entry.initrd_count; i++) {
        uint64_t size;
        KHO_TRY(fw_.file_size(c_.entry.initrd[i], &size));
        l.initrd_size = *total + size;
        *total += page_up(size);
    }
    return Status::ok();
}

// A KHO problem found while preparing the boot: true when the entry's
// policy says halt, false when it says boot without the handover.
bool BootFlow::kho_failed(const Status& s) {
    log_error(s);
    if (decide_kho_action(c_.entry.kho, c_.entry.kho_on_error, true, false) == KhoAction::Halt) return true;
    log("policy cold-boot found=1 usable=0");
    return false;
}

// Kernel header, initrd sizes, command line and placement; on success the
// memory is allocated and `handover` says whether KHO survived. On failure
// *why is the halt reason, the error logged.
bool BootFlow::prepare(bool& handover, CommandLine& cl, HaltReason* why) {
    LoadedImages& l = images_;
    uint64_t file_size = 0, initrd_total = 0;
    auto stop = [&](const Status& s, HaltReason r) {
        log_error(s);
        *why = r;
        return false;
    };
    Status s = read_kernel_header(&l.image, &file_size);
    if (!s) return stop(s, HaltReason::Image);
    l.kernel_file_size = file_size;
    if (!(s = initrd_sizes(l, &initrd_total))) return stop(s, HaltReason::Initrd);
    protocol_.add_initrd(&l.image, initrd_total);
    s = build_cmdline(handover, l.image, cl);
    if (!s && handover) {
        if (kho_failed(s)) {
            *why = HaltReason::KhoCmdline;
            return false;
        }
        handover = false;
        s = build_cmdline(false, l.image, cl);
    }
    if (!s) return stop(s, HaltReason::Cmdline);
    s = handover ? place(true, l.image, initrd_total, cl.length(), &l)
                 : place_cold(l.image, initrd_total, cl.length(), &l);
    if (!s && handover) {
        if (kho_failed(s)) {
            *why = HaltReason::KhoNoSpace;
            return false;
        }
        handover = false;
        s = build_cmdline(false, l.image, cl);
        if (s) s = place_cold(l.image, initrd_total, cl.length(), &l);
    }
    if (!s) return stop(s, HaltReason::Placement);
    log_placement(file_size, handover);
    return true;
}

void BootFlow::log_placement(uint64_t file_size, bool handover) {
    const LoadedImages& l = images_;
    bool in_scratch = handover && scratch_.contains(l.kernel, l.kernel + l.image.init_size);
    log("kernel file=%s size=%llu protocol=%u.%02u init_size=0x%llx align=0x%llx load=0x%llx in=%s",
        c_.entry.linux_path, (unsigned long long)file_size, l.image.protocol >> 8, l.image.protocol & 0xff,
        (unsigned long long)l.image.init_size, (unsigned long long)l.image.alignment,
        (unsigned long long)l.kernel, in_scratch ? "scratch" : "ram");
    size_t initrds = c_.entry.initrd_count + (c_.entry.uki_initrd_size ? 1 : 0);  // a UKI's .initrd counts
    log("initrd count=%zu size=%llu addr=0x%llx", initrds, (unsigned long long)l.initrd_size,
        (unsigned long long)l.initrd);
    log("boot-data addr=0x%llx size=%llu", (unsigned long long)l.boot_data,
        (unsigned long long)l.layout.size);
}

// With Secure Boot or a TPM the whole file is read first, checked and
// measured (boot_flow_secure.cpp), and the payload copied from it.
Status BootFlow::load_files() {
    const LoadedImages& l = images_;
    uint8_t* kernel = fw_.ram().writable(l.kernel, l.image.payload_size);
    uint8_t* initrd = l.initrd_alloc ? fw_.ram().writable(l.initrd, l.initrd_alloc) : nullptr;
    if (!kernel || (l.initrd_alloc && !initrd))
        return Status::error(Err::Io, "placed kernel or initrd is not RAM");
    if (verifier_ != KernelVerifier::None || tpm_) {
        const uint8_t* file = nullptr;
        KHO_TRY(read_whole_kernel(&file));
        if (c_.entry.linux_offset + l.image.setup_size + l.image.payload_size > l.kernel_file_size)
            return Status::error(Err::BadImage, "%s is shorter than its header says", c_.entry.linux_path);
        __builtin_memcpy(kernel, file + c_.entry.linux_offset + l.image.setup_size, l.image.payload_size);
        measure(MeasuredItem::Kernel, file, l.kernel_file_size);
    } else {
        KHO_TRY(fw_.read_file(c_.entry.linux_path, c_.entry.linux_offset + l.image.setup_size, kernel,
                              l.image.payload_size));
    }
    uint64_t off = 0;
    if (c_.entry.uki_initrd_size) {
        uint64_t size = c_.entry.uki_initrd_size;
        if (size > l.initrd_alloc) return Status::error(Err::Io, "%s: .initrd larger than placed", c_.entry.uki);
        KHO_TRY(fw_.read_file(c_.entry.uki, c_.entry.uki_initrd_offset, initrd, size));
        off = page_up(size);
        __builtin_memset(initrd + size, 0, off - size);
    }
    for (size_t i = 0; i < c_.entry.initrd_count; i++) {
        uint64_t size;
        KHO_TRY(fw_.file_size(c_.entry.initrd[i], &size));
        if (off + size > l.initrd_alloc)
            return Status::error(Err::Io, "%s grew while loading", c_.entry.initrd[i]);
        KHO_TRY(fw_.read_file(c_.entry.initrd[i], 0, initrd + off, size));
        measure(MeasuredItem::Initrd, initrd + off, size);
        // Zero padding between archives: the kernel's cpio reader skips
        // NULs between concatenated archives (init/initramfs.c).
        uint64_t next = page_up(off + size);
        __builtin_memset(initrd + off + size, 0, next - off - size);
        off = next;
    }
    return Status::ok();
}

}  // namespace kho
