#include "linux_sources.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <cstdlib>

#include "abi/khoboot_vendor.h"

namespace kho::tools::exporting {
namespace {

constexpr uint64_t kPage = abi::kPageSize;

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        if (nl == std::string::npos) nl = text.size();
        std::string line = text.substr(pos, nl - pos);
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (!line.empty()) out.push_back(line);
        pos = nl + 1;
    }
    return out;
}

bool parse_hex(const std::string& s, uint64_t* out) {
    const char* p = s.c_str();
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) p += 2;
    if (!*p) return false;
    // Digits only: strtoull() alone would take signs and blanks.
    for (const char* q = p; *q; ++q)
        if (!isxdigit(static_cast<unsigned char>(*q))) return false;
    char* end = nullptr;
    errno = 0;
    *out = std::strtoull(p, &end, 16);
    return !*end && !errno;
}

// "start-end" before the colon of an iomem line (end inclusive).
bool iomem_span(const std::string& line, size_t colon, uint64_t* start, uint64_t* last) {
    size_t dash = line.find('-');
    return dash != std::string::npos && dash < colon && parse_hex(line.substr(0, dash), start) &&
           parse_hex(line.substr(dash + 1, colon - dash - 1), last) && *last >= *start;
}

// The whole pages of [start, last]: a partial page at either end is not
// RAM /dev/mem may map whole. Empty if there is none. (The last page of
// the address space is dropped: a half-open end cannot name 2^64.)
Range whole_pages(uint64_t start, uint64_t last) {
    if (start > ~0ull - (kPage - 1)) return Range{0, 0};
    uint64_t s = (start + kPage - 1) & ~(kPage - 1);
    uint64_t e = (last == ~0ull ? last : last + 1) & ~(kPage - 1);
    return e > s ? Range{s, e} : Range{0, 0};
}

}  // namespace

Status parse_scratch_lists(const std::string& phys, const std::string& len,
                           std::vector<abi::KhoScratch>* out) {
    std::vector<std::string> a = split_lines(phys), b = split_lines(len);
    if (a.empty())
        return Status::error(Err::BadProperty, "scratch_phys lists no scratch region");
    if (a.size() != b.size())
        return Status::error(Err::BadProperty, "scratch_phys lists %zu regions, scratch_len %zu",
                             a.size(), b.size());
    out->clear();
    for (size_t i = 0; i < a.size(); ++i) {
        abi::KhoScratch s{};
        if (!parse_hex(a[i], &s.addr))
            return Status::error(Err::BadProperty, "scratch_phys line %zu '%s' is not hex", i + 1,
                                 a[i].substr(0, 40).c_str());
        if (!parse_hex(b[i], &s.size))
            return Status::error(Err::BadProperty, "scratch_len line %zu '%s' is not hex", i + 1,
                                 b[i].substr(0, 40).c_str());
        out->push_back(s);
    }
    return Status::ok();
}

Status parse_iomem_ram(const std::string& text, std::vector<Range>* out) {
    std::vector<std::string> lines = split_lines(text);
    // At most one range per line: the set never runs out of room.
    std::vector<Range> storage(lines.size() + 1);
    RangeSet ram(storage.data(), storage.size());
    for (const std::string& line : lines) {
        // Nested resources are indented; only top-level RAM counts (the
        // kernel's own code/data appear as children of System RAM).
        if (line[0] == ' ') continue;
        size_t colon = line.find(" : ");
        if (colon == std::string::npos || line.substr(colon + 3) != "System RAM") continue;
        uint64_t start, last;
        if (!iomem_span(line, colon, &start, &last))
            return Status::error(Err::Io, "iomem line '%s' is malformed", line.substr(0, 60).c_str());
        // /proc/iomem shows zeros to readers without CAP_SYS_ADMIN.
        if (start == 0 && last == 0)
            return Status::error(Err::Io, "iomem shows zero addresses (not running as root?)");
        Range r = whole_pages(start, last);
        KHO_TRY(ram.add(r));
    }
    // The core's coalescing: adjacent and overlapping entries become one
    // range, so DevMem::is_ram() finds any RAM span in one range.
    ram.normalize();
    if (!ram.size()) return Status::error(Err::Io, "iomem lists no System RAM");
    out->assign(ram.begin(), ram.end());
    return Status::ok();
}

bool read_small_file(const std::string& path, std::string* out, size_t limit) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    out->clear();
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof(buf));
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            errno = e;
            return false;
        }
        if (n == 0) break;
        out->append(buf, size_t(n));
        if (out->size() > limit) break;
    }
    close(fd);
    return true;
}

std::string read_sub_fdts(const std::string& dir, std::vector<SubtreeBlob>* out) {
    out->clear();
    DIR* d = opendir(dir.c_str());
    if (!d) return dir + ": " + std::strerror(errno);
    std::string err;
    while (struct dirent* e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        SubtreeBlob b{e->d_name, {}};
        // A sub-FDT is at most a few pages; 1 MiB bounds a wrong path.
        if (!read_small_file(dir + "/" + b.name, &b.bytes, 1 << 20)) {
            err = dir + "/" + b.name + ": " + std::strerror(errno);
            break;
        }
        out->push_back(std::move(b));
    }
    closedir(d);
    return err;
}

}  // namespace kho::tools::exporting
