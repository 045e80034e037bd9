#include "sparse_ram.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace kho::tools {

SparseRam::~SparseRam() {
    for (const Region& r : regions_) munmap(const_cast<uint8_t*>(r.data), r.size);
}

std::string SparseRam::add_file(const std::string& path, uint64_t base) {
    int fd = open(path.c_str(), O_RDONLY);
    if (fd < 0) return path + ": " + std::strerror(errno);
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size == 0) {
        close(fd);
        return path + ": empty or unreadable";
    }
    uint64_t size = uint64_t(st.st_size);
    void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return path + ": mmap: " + std::strerror(errno);
    if (base + size < base) {
        munmap(p, size);
        return path + ": base + size wraps";
    }
    for (const Region& r : regions_) {
        if (base < r.base + r.size && r.base < base + size) {
            munmap(p, size);
            return path + ": overlaps another --ram file";
        }
    }
    regions_.push_back(Region{base, size, static_cast<const uint8_t*>(p)});
    std::sort(regions_.begin(), regions_.end(),
              [](const Region& a, const Region& b) { return a.base < b.base; });
    return "";
}

std::string SparseRam::add_spec(const std::string& spec) {
    std::string path = spec;
    uint64_t base = 0;
    size_t at = spec.rfind('@');
    if (at != std::string::npos) {
        path = spec.substr(0, at);
        std::string num = spec.substr(at + 1);
        char* end = nullptr;
        errno = 0;
        base = std::strtoull(num.c_str(), &end, 0);
        if (num.empty() || *end || errno) return "bad base in --ram " + spec;
    }
    return add_file(path, base);
}

const uint8_t* SparseRam::view(uint64_t addr, uint64_t len) const {
    auto it = std::upper_bound(regions_.begin(), regions_.end(), addr,
                               [](uint64_t a, const Region& r) { return a < r.base; });
    if (it == regions_.begin()) return nullptr;
    const Region& r = *--it;
    if (addr - r.base >= r.size || len > r.size - (addr - r.base)) return nullptr;
    return r.data + (addr - r.base);
}

bool SparseRam::is_ram(uint64_t addr, uint64_t len) const {
    while (len) {
        auto it = std::upper_bound(regions_.begin(), regions_.end(), addr,
                                   [](uint64_t a, const Region& r) { return a < r.base; });
        if (it == regions_.begin()) return false;
        const Region& r = *--it;
        if (addr - r.base >= r.size) return false;
        uint64_t avail = r.size - (addr - r.base);
        if (avail >= len) return true;
        addr += avail;
        len -= avail;
    }
    return true;
}

}  // namespace kho::tools
