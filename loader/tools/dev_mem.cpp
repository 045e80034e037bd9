#include "dev_mem.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "abi/khoboot_vendor.h"

namespace kho::tools::exporting {

namespace {
constexpr uint64_t kPage = abi::kPageSize;
constexpr uint64_t kWindow = 2ull << 20;
}  // namespace

DevMem::~DevMem() {
    for (auto& [start, w] : windows_) munmap(const_cast<uint8_t*>(w.data), w.end - start);
    for (auto& [data, size] : retired_) munmap(const_cast<uint8_t*>(data), size);
    if (fd_ >= 0) close(fd_);
}

std::string DevMem::open(const std::string& path, const std::vector<Range>& ram) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return path + ": " + std::strerror(errno);
    ram_ = ram;
    return "";
}

const Range* DevMem::ram_range(uint64_t addr, uint64_t len) const {
    auto it = std::upper_bound(ram_.begin(), ram_.end(), addr,
                               [](uint64_t a, const Range& r) { return a < r.start; });
    if (it == ram_.begin()) return nullptr;
    --it;
    if (addr >= it->end || len > it->end - addr) return nullptr;
    return &*it;
}

bool DevMem::is_ram(uint64_t addr, uint64_t len) const {
    // Adjacent iomem entries were coalesced, so one range must hold it all.
    return len == 0 ? ram_range(addr, 1) != nullptr : ram_range(addr, len) != nullptr;
}

const uint8_t* DevMem::view(uint64_t addr, uint64_t len) const {
    if (len == 0 || fd_ < 0) return nullptr;
    const Range* r = ram_range(addr, len);
    if (!r) return nullptr;
    auto it = windows_.upper_bound(addr);
    if (it != windows_.begin()) {
        --it;
        if (addr + len <= it->second.end) return it->second.data + (addr - it->first);
    }
    uint64_t start = std::max(addr & ~(kWindow - 1), r->start);
    uint64_t end = std::min((addr + len + kWindow - 1) & ~(kWindow - 1), r->end);
    void* p = mmap(nullptr, end - start, PROT_READ, MAP_SHARED, fd_, off_t(start));
    if (p == MAP_FAILED) {
        last_errno_ = errno;
        last_error_addr_ = start;
        return nullptr;
    }
    // A window that grew over an older one replaces it in the index; the
    // old mapping stays (its views may still be in use) until destruction.
    auto [slot, fresh] = windows_.try_emplace(start, Window{end, static_cast<const uint8_t*>(p)});
    if (!fresh) {
        if (slot->second.end >= end) {
            munmap(p, end - start);
        } else {
            retired_.push_back({slot->second.data, slot->second.end - start});
            slot->second = Window{end, static_cast<const uint8_t*>(p)};
        }
    }
    return slot->second.data + (addr - start);
}

std::string DevMem::probe() const {
    for (const Range& r : ram_) {
        uint64_t page = std::max(r.start, uint64_t(1) << 20);
        if (page + kPage > r.end) continue;
        uint8_t byte;
        if (read(page, &byte, 1)) return "";
        char buf[160];
        std::snprintf(buf, sizeof(buf), "cannot map RAM at 0x%llx through /dev/mem: %s%s",
                      (unsigned long long)page, std::strerror(last_errno_ ? last_errno_ : EIO),
                      last_errno_ == EPERM ? " (kernel built with CONFIG_STRICT_DEVMEM?)" : "");
        return buf;
    }
    return "iomem lists no RAM above 1 MiB";
}

}  // namespace kho::tools::exporting
