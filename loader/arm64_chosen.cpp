// /chosen/linux,kho-* for the arm64 EFI stub (arm64_chosen.h).
#include "arm64_chosen.h"

#include <libfdt.h>

namespace kho {

namespace {

constexpr const char* kKhoFdt = "linux,kho-fdt";
constexpr const char* kKhoScratch = "linux,kho-scratch";
// /chosen, two properties of at most 4 cells, their names in the strings
// block, and libfdt's alignment slack.
constexpr size_t kChosenRoom = 512;
// The stub's own defaults for a tree it generates (libstub/fdt.c
// fdt_update_cell_size(), EFI_DT_ADDR_CELLS_DEFAULT / _SIZE_CELLS_DEFAULT).
constexpr uint32_t kEmptyTreeCells = 2;

Status cell_count(const void* fdt, const char* name, uint32_t* out) {
    int len = 0;
    const void* p = fdt_getprop(fdt, 0, name, &len);
    if (!p) return Status::ok();  // Linux's default stays
    if (len != 4) return Status::error(Err::Io, "firmware DTB: root %s is %d bytes, not one cell", name, len);
    uint32_t v = fdt32_ld(static_cast<const fdt32_t*>(p));
    if (v != 1 && v != 2)
        return Status::error(Err::Io, "firmware DTB: root %s = %u (1 or 2 expected)", name, v);
    *out = v;
    return Status::ok();
}

// `v` as `cells` big-endian 32-bit cells at `out`.
bool put_cells(uint64_t v, uint32_t cells, fdt32_t* out) {
    if (cells == 1 && v > 0xffffffffull) return false;
    if (cells == 2) *out++ = cpu_to_fdt32(static_cast<uint32_t>(v >> 32));
    *out = cpu_to_fdt32(static_cast<uint32_t>(v));
    return true;
}

Status set_pair(void* fdt, int chosen, const char* name, uint64_t addr, uint64_t size, const RootCells& c) {
    fdt32_t cells[4];
    if (!put_cells(addr, c.address, cells) || !put_cells(size, c.size, cells + c.address))
        return Status::error(Err::BadProperty,
                             "%s 0x%llx+0x%llx does not fit the root's #address-cells=%u #size-cells=%u",
                             name, (unsigned long long)addr, (unsigned long long)size, c.address, c.size);
    int err = fdt_setprop(fdt, chosen, name, cells, static_cast<int>((c.address + c.size) * sizeof(fdt32_t)));
    if (err) return Status::error(Err::Capacity, "/chosen/%s: %s", name, fdt_strerror(err));
    return Status::ok();
}

Status start_tree(const void* dtb, size_t dtb_max, void* out, size_t capacity) {
    int cap = capacity > 0x7fffffff ? 0x7fffffff : static_cast<int>(capacity);
    if (!dtb) {
        int err = fdt_create_empty_tree(out, cap);
        if (!err) err = fdt_setprop_u32(out, 0, "#address-cells", kEmptyTreeCells);
        if (!err) err = fdt_setprop_u32(out, 0, "#size-cells", kEmptyTreeCells);
        if (err) return Status::error(Err::Capacity, "empty DTB: %s", fdt_strerror(err));
        return Status::ok();
    }
    if (dtb_max < sizeof(fdt_header) || fdt_check_header(dtb) != 0)
        return Status::error(Err::Io, "firmware DTB: bad header");
    if (fdt_totalsize(dtb) > dtb_max) return Status::error(Err::Io, "firmware DTB: larger than its table");
    int err = fdt_check_full(dtb, fdt_totalsize(dtb));
    if (err) return Status::error(Err::Io, "firmware DTB: %s", fdt_strerror(err));
    err = fdt_open_into(dtb, out, cap);
    if (err) return Status::error(Err::Capacity, "firmware DTB of %u bytes: %s", fdt_totalsize(dtb), fdt_strerror(err));
    return Status::ok();
}

}  // namespace

Status read_root_cells(const void* fdt, RootCells* out) {
    *out = RootCells{};
    KHO_TRY(cell_count(fdt, "#address-cells", &out->address));
    return cell_count(fdt, "#size-cells", &out->size);
}

size_t chosen_dtb_capacity(const void* dtb) {
    size_t base = dtb && fdt_check_header(dtb) == 0 ? fdt_totalsize(dtb) : sizeof(fdt_header) + 64;
    return (base + kChosenRoom + 7) & ~size_t(7);
}

Status build_chosen_dtb(const void* dtb, size_t dtb_max, const ChosenKho& kho, void* out, size_t capacity,
                        RootCells* cells) {
    KHO_TRY(start_tree(dtb, dtb_max, out, capacity));
    KHO_TRY(read_root_cells(out, cells));
    int chosen = fdt_subnode_offset(out, 0, "chosen");
    if (chosen == -FDT_ERR_NOTFOUND) chosen = fdt_add_subnode(out, 0, "chosen");
    if (chosen < 0) return Status::error(Err::Capacity, "/chosen: %s", fdt_strerror(chosen));
    // Stale copies go first: a cold boot names no state, and a handover
    // names exactly one pair per property.
    const char* const names[] = {kKhoFdt, kKhoScratch};
    for (const char* name : names) {
        int err = fdt_delprop(out, chosen, name);
        if (err && err != -FDT_ERR_NOTFOUND)
            return Status::error(Err::Io, "/chosen/%s: %s", name, fdt_strerror(err));
    }
    if (kho.has_state) {
        KHO_TRY(set_pair(out, chosen, kKhoFdt, kho.fdt_addr, kho.fdt_size, *cells));
        KHO_TRY(set_pair(out, chosen, kKhoScratch, kho.scratch_addr, kho.scratch_size, *cells));
    }
    int err = fdt_pack(out);
    if (err) return Status::error(Err::Io, "DTB pack: %s", fdt_strerror(err));
    return Status::ok();
}

}  // namespace kho
