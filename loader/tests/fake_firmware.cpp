#include "fake_firmware.h"

#include <string.h>
#include <strings.h>

#include <algorithm>

#include "abi/efi_memory.h"

namespace khotest {

using kho::Err;
using kho::Status;
namespace efi = kho::abi::efi;

namespace {

// A descriptor with the padding OVMF's 48-byte stride has.
struct Desc48 {
    efi::MemoryDescriptor d;
    uint64_t pad;
};
static_assert(sizeof(Desc48) == 48);

uint64_t page_up(uint64_t v) { return (v + efi::kPageSize - 1) & ~(efi::kPageSize - 1); }

}  // namespace

std::vector<uint8_t> make_test_bzimage(uint64_t init_size) {
    const uint64_t setup = (4 + 1) * 512, payload = 0x10000;
    std::vector<uint8_t> b(setup + payload, 0);
    auto put = [&](size_t off, uint64_t v, size_t n) { memcpy(&b[off], &v, n); };
    put(0x1f1, 4, 1);
    put(0x1f4, payload / 16, 4);
    put(0x1fe, 0xaa55, 2);
    put(0x200, 0xeb, 1);
    put(0x201, 0x26c - 0x202, 1);
    put(0x202, 0x53726448, 4);  // "HdrS"
    put(0x206, 0x020f, 2);
    put(0x211, 0x01, 1);         // LOADED_HIGH
    put(0x22c, 0x7fffffff, 4);   // initrd_addr_max
    put(0x230, 0x200000, 4);     // kernel_alignment
    put(0x234, 1, 1);            // relocatable_kernel
    put(0x236, 0x3, 2);          // XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G
    put(0x238, 2047, 4);         // cmdline_size
    put(0x258, 0x1000000, 8);    // pref_address
    put(0x260, init_size, 4);
    return b;
}

FakeFirmware::FakeFirmware(uint64_t ram_start, uint64_t ram_end) {
    segments_.push_back({ram_start, ram_end, efi::kConventionalMemory});
}

void FakeFirmware::set_type(uint64_t start, uint64_t end, uint32_t efi_type) {
    std::vector<Segment> out;
    for (const Segment& s : segments_) {
        if (s.end <= start || end <= s.start) {
            out.push_back(s);
            continue;
        }
        if (s.start < start) out.push_back({s.start, start, s.type});
        out.push_back({std::max(s.start, start), std::min(s.end, end), efi_type});
        if (end < s.end) out.push_back({end, s.end, s.type});
    }
    // Adjacent segments of one type merge, as firmware maps do.
    segments_.clear();
    for (const Segment& s : out) {
        if (!segments_.empty() && segments_.back().end == s.start && segments_.back().type == s.type)
            segments_.back().end = s.end;
        else
            segments_.push_back(s);
    }
}

uint32_t FakeFirmware::type_at(uint64_t addr) const {
    for (const Segment& s : segments_)
        if (s.start <= addr && addr < s.end) return s.type;
    return efi::kReservedMemoryType;
}

bool FakeFirmware::all_of_type(uint64_t start, uint64_t end, uint32_t type) const {
    uint64_t cur = start;
    for (const Segment& s : segments_) {
        if (s.end <= cur || s.start > cur) continue;
        if (s.type != type) return false;
        cur = s.end;
        if (cur >= end) return true;
    }
    return cur >= end;
}

bool FakeFirmware::logged(const std::string& needle) const {
    for (const std::string& l : lines)
        if (l.find(needle) != std::string::npos) return true;
    return false;
}

std::string FakeFirmware::log_text() const {
    std::string all;
    for (const std::string& l : lines) all += l + "\n";
    return all;
}

Status FakeFirmware::memory_map(void* buffer, size_t capacity, kho::MemoryMapSnapshot* out) {
    if (segments_.size() * sizeof(Desc48) > capacity)
        return Status::error(Err::Io, "GetMemoryMap: buffer too small");
    auto* d = static_cast<Desc48*>(buffer);
    for (size_t i = 0; i < segments_.size(); i++) {
        d[i] = Desc48{};
        d[i].d.type = segments_[i].type;
        d[i].d.physical_start = segments_[i].start;
        d[i].d.number_of_pages = (segments_[i].end - segments_[i].start) / efi::kPageSize;
        d[i].d.attribute = efi::kMemoryWB;
    }
    out->view = kho::FirmwareMemoryMap{static_cast<const uint8_t*>(buffer), segments_.size(), sizeof(Desc48)};
    out->key = clock_;
    out->descriptor_version = 1;
    return Status::ok();
}

Status FakeFirmware::memory_map_size(size_t* count, size_t* descriptor_size) {
    *count = segments_.size();
    *descriptor_size = sizeof(Desc48);
    return Status::ok();
}

Status FakeFirmware::allocate_at(uint64_t start, uint64_t end, uint32_t efi_type) {
    end = page_up(end);
    if (start & (efi::kPageSize - 1) || end <= start || !all_of_type(start, end, efi::kConventionalMemory))
        return Status::error(Err::Conflict, "AllocatePages 0x%llx-0x%llx: not free",
                             (unsigned long long)start, (unsigned long long)end);
    set_type(start, end, efi_type);
    page_allocations++;
    return Status::ok();
}

void FakeFirmware::free_at(uint64_t start, uint64_t end) { set_type(start, page_up(end), efi::kConventionalMemory); }

Status FakeFirmware::allocate_pool(size_t bytes, void** out) {
    pools_.push_back(std::make_unique<uint8_t[]>(bytes));
    *out = pools_.back().get();
    pool_allocations++;
    return Status::ok();
}

Status FakeFirmware::read_variable(kho::KhoVariable v, void* buf, size_t capacity, size_t* len, bool* found) {
    const auto& var = vars_[size_t(v)];
    *found = var.has_value();
    if (!var) return Status::ok();
    if (var->size() > capacity) {
        Err kind = v == kho::KhoVariable::Descriptor ? Err::BadDescriptor
                   : v == kho::KhoVariable::Manifest ? Err::Integrity
                                                     : Err::Io;
        return Status::error(kind, "variable is %zu bytes, max %zu", var->size(), capacity);
    }
    memcpy(buf, var->data(), var->size());
    *len = var->size();
    return Status::ok();
}

Status FakeFirmware::write_variable(kho::KhoVariable v, const void* data, size_t len) {
    if (fail_writes[size_t(v)]) return Status::error(Err::Io, "SetVariable: status 0x8000000000000009");
    auto* p = static_cast<const uint8_t*>(data);
    vars_[size_t(v)] = std::vector<uint8_t>(p, p + len);
    return Status::ok();
}

Status FakeFirmware::reset_warm() {
    warm_resets++;
    if (on_warm_reset) on_warm_reset(*this);
    return Status::error(Err::Io, "ResetSystem(EfiResetWarm) returned (model firmware)");
}

Status FakeFirmware::delete_variable(kho::KhoVariable v) {
    vars_[size_t(v)].reset();
    return Status::ok();
}

Status FakeFirmware::read_loader_variable(const char* name, void* buf, size_t capacity, size_t* len,
                                          bool* found, bool* non_volatile) {
    auto it = loader_vars.find(name);
    *found = it != loader_vars.end();
    *non_volatile = !volatile_loader_vars.count(name);
    if (!*found) return Status::ok();
    if (it->second.size() > capacity)
        return Status::error(Err::Io, "%s is %zu bytes, max %zu", name, it->second.size(), capacity);
    memcpy(buf, it->second.data(), it->second.size());
    *len = it->second.size();
    return Status::ok();
}

Status FakeFirmware::write_loader_variable(const char* name, const void* data, size_t len, bool non_volatile) {
    auto* p = static_cast<const uint8_t*>(data);
    loader_vars[name] = std::vector<uint8_t>(p, p + len);
    if (non_volatile) volatile_loader_vars.erase(name);
    else volatile_loader_vars.insert(name);
    return Status::ok();
}

Status FakeFirmware::delete_loader_variable(const char* name) {
    loader_vars.erase(name);
    volatile_loader_vars.erase(name);
    return Status::ok();
}

Status FakeFirmware::file_size(const char* path, uint64_t* size) {
    auto it = files.find(path);
    if (it == files.end()) return Status::error(Err::Io, "%s: not found", path);
    *size = it->second.size();
    return Status::ok();
}

Status FakeFirmware::read_file(const char* path, uint64_t offset, void* dst, uint64_t len) {
    auto it = files.find(path);
    if (it == files.end() || offset + len > it->second.size())
        return Status::error(Err::Io, "%s: short read", path);
    if (fail_reads.count(path)) return Status::error(Err::Io, "%s: read: status 0x8000000000000007", path);
    memcpy(dst, it->second.data() + offset, len);
    return Status::ok();
}

Status FakeFirmware::list_dir(const char* dir, const char* suffix, kho::DirVisitor& visit) {
    const std::string prefix = std::string(dir) + "/";
    const size_t sn = strlen(suffix);
    for (const auto& [path, bytes] : files) {  // std::map: byte order, as FAT's order is none
        if (path.rfind(prefix, 0) != 0) continue;
        std::string name = path.substr(prefix.size());
        if (name.find('/') != std::string::npos || name.size() <= sn || name[0] == '.' ||
            strcasecmp(name.c_str() + name.size() - sn, suffix) != 0)
            continue;
        KHO_TRY(visit.name(name.data(), name.size()));
    }
    return Status::ok();
}

void FakeFirmware::log_line(const char* text, bool) { lines.emplace_back(text); }

uint64_t FakeFirmware::mark_phase(const char* name, uint64_t start, uint64_t* us) {
    uint64_t t = now();
    *us = t - start;
    lines.push_back(std::string("phase ") + name);
    return t;
}

Status FakeFirmware::set_watchdog(uint64_t seconds) {
    watchdog_seconds = seconds;
    return Status::ok();
}

bool FakeFirmware::read_key(uint16_t* ch) {
    if (keys.empty()) return false;
    *ch = keys.front();
    keys.erase(keys.begin());
    return true;
}

Status FakeFirmware::Ram::load(const kho::FirmwareMemoryMap& map) { return kho::firmware_ram(map, ram_); }

const uint8_t* FakeFirmware::Ram::view(uint64_t addr, uint64_t len) const {
    if (!is_ram(addr, len)) return nullptr;
    return fw_.mem_.view(addr, len);
}

bool FakeFirmware::Ram::is_ram(uint64_t addr, uint64_t len) const {
    if (len == 0 || addr + len < addr) return false;
    return ram_.contains(addr, addr + len);
}

// Only what the loader allocated (not Conventional, not the firmware's).
uint8_t* FakeFirmware::Ram::writable(uint64_t addr, uint64_t len) {
    if (!len || addr + len < addr) return nullptr;
    if (!fw_.all_of_type(addr & ~(efi::kPageSize - 1), page_up(addr + len), efi::kLoaderData) &&
        !fw_.all_of_type(addr & ~(efi::kPageSize - 1), page_up(addr + len), efi::kLoaderCode))
        return nullptr;
    return fw_.mem_.mutable_view(addr, len);
}

Status FakeFirmware::read_secure_boot(kho::SecureBootVariables* out) {
    if (secure_boot_read_fails) return Status::error(Err::Io, "GetVariable(SecureBoot) failed");
    *out = secure_boot_vars;
    return Status::ok();
}

Status FakeFirmware::verify_image(kho::KernelVerifier how, const void* image, uint64_t len) {
    const uint8_t* p = static_cast<const uint8_t*>(image);
    verifications.push_back({how, std::vector<uint8_t>(p, p + len)});
    if (!authorized.count(verifications.back().image))
        return Status::error(Err::Unverified, "status 0x800000000000001a");
    return Status::ok();
}

Status FakeFirmware::measure(uint32_t pcr, uint32_t event_type, const void* event, uint32_t event_len,
                             const void* data, uint64_t len) {
    const uint8_t* e = static_cast<const uint8_t*>(event);
    const uint8_t* d = static_cast<const uint8_t*>(data);
    measurements.push_back({pcr, event_type, {e, e + event_len}, {d, d + len}});
    return Status::ok();
}

}  // namespace khotest
