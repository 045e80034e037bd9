// Writing a synthetic state (synth.h) to an output directory:
//   blob-N.bin      RAM images for -device loader,file=...,addr=...,force-raw=on
//                   (sparse files: holes are RAM the state does not define)
//   descriptor.bin  the handover descriptor (abi/handover_descriptor.h)
//   blocks.txt      the expected map: "0xPHYS ORDER KIND" per block, by address
//   metadata.txt    the map's own pages (chunks/bitmaps or radix tables/leaves)
//   state.json      everything above in one machine-readable record
//   state.sh        the same as shell variables
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "loader/handover_descriptor.h"
#include "loader/crc32.h"
#include "synth.h"
#include "test_kernel/shared/block_pattern.h"

namespace kho::synth {

namespace {

// Extents closer than this share one blob file (fewer -device loader
// instances); larger gaps, and any scratch region, split them, so that
// QEMU's reset-time rewrite never touches scratch.
constexpr uint64_t kMergeGap = 16ull << 20;

std::string hex(uint64_t v) {
    char b[24];
    std::snprintf(b, sizeof(b), "0x%llx", (unsigned long long)v);
    return b;
}

// Written extents: metadata pages and the pattern parts of data blocks.
std::vector<Range> extents(const State& s) {
    std::vector<Range> x;
    for (const auto& [p, page] : s.pages) x.push_back({p, p + kPage});
    for (const auto& e : s.entries) {
        tk::pattern::Extents ex = tk::pattern::extents(e.phys, e.order, e.fill);
        for (unsigned k = 0; k < ex.count; ++k) x.push_back({ex.start[k], ex.start[k] + ex.len[k]});
    }
    std::sort(x.begin(), x.end(), [](const Range& a, const Range& b) { return a.start < b.start; });
    std::vector<Range> merged;
    for (const auto& r : x) {
        if (!merged.empty() && r.start <= merged.back().end) merged.back().end = std::max(merged.back().end, r.end);
        else merged.push_back(r);
    }
    return merged;
}

bool crosses_scratch(const State& s, uint64_t a, uint64_t b) {
    for (const auto& sc : s.scratch)
        if (sc.addr < b && a < sc.addr + sc.size) return true;
    return false;
}

std::string write_blob(const State& s, const std::string& path, uint64_t base, const std::vector<Range>& parts) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return path + ": " + std::strerror(errno);
    uint64_t end = parts.back().end;
    std::string err;
    if (::ftruncate(fd, off_t(end - base)) != 0) err = path + ": " + std::strerror(errno);
    std::vector<uint8_t> buf(1 << 20);
    for (const auto& r : parts) {
        for (uint64_t p = r.start; p < r.end && err.empty();) {
            uint64_t n = 0;
            while (p + n < r.end && n < buf.size()) {
                if (!page_bytes(s, p + n, buf.data() + n)) std::memset(buf.data() + n, 0, kPage);
                n += kPage;
            }
            if (::pwrite(fd, buf.data(), n, off_t(p - base)) != ssize_t(n)) err = path + ": short write";
            p += n;
        }
    }
    ::close(fd);
    return err;
}

// Extents closer than kMergeGap, with no scratch between them, share a group.
std::vector<std::vector<Range>> group_extents(const State& s) {
    std::vector<std::vector<Range>> groups;
    for (const auto& r : extents(s)) {
        if (!groups.empty()) {
            uint64_t prev_end = groups.back().back().end;
            if (r.start - prev_end < kMergeGap && !crosses_scratch(s, prev_end, r.start)) {
                groups.back().push_back(r);
                continue;
            }
        }
        groups.push_back({r});
    }
    return groups;
}

std::string write_blobs(const State& s, const std::string& dir, std::vector<Blob>* blobs) {
    std::vector<std::vector<Range>> groups = group_extents(s);
    for (size_t i = 0; i < groups.size(); ++i) {
        Blob b{"blob-" + std::to_string(i) + ".bin", groups[i].front().start,
               groups[i].back().end - groups[i].front().start};
        std::string err = write_blob(s, dir + "/" + b.file, b.addr, groups[i]);
        if (!err.empty()) return err;
        blobs->push_back(b);
    }
    return "";
}

// The descriptor is built and checked by the core's own builder; *hex
// gets its bytes for state.json.
std::string write_descriptor(const State& s, const std::string& dir, std::string* desc_hex) {
    HandoverDescriptor d;
    d.flags = abi::descriptor::kFlagFdtCrc;
    if (s.format == Format::Multikernel) d.flags |= abi::descriptor::kFlagMultikernel;
    d.fdt_addr = s.fdt;
    d.fdt_size = abi::kRootFdtSize;
    d.fdt_crc32 = crc32(s.pages.at(s.fdt).data(), kPage);
    d.scratch_count = uint32_t(s.scratch.size());
    for (size_t i = 0; i < s.scratch.size(); ++i) d.scratch[i] = s.scratch[i];
    uint8_t desc[abi::descriptor::kMaxSize];
    size_t desc_len = 0;
    Status st = build_handover_descriptor(d, desc, sizeof(desc), &desc_len);
    if (!st) return std::string("descriptor: ") + st.message();
    std::ofstream(dir + "/descriptor.bin", std::ios::binary).write(reinterpret_cast<char*>(desc), std::streamsize(desc_len));
    for (size_t i = 0; i < desc_len; ++i) {
        char b[3];
        std::snprintf(b, sizeof(b), "%02x", desc[i]);
        *desc_hex += b;
    }
    return "";
}

// The expected block list, and the map's own pages (neither the root FDT
// nor the subtree blob).
void write_block_lists(const State& s, const std::string& dir) {
    std::ofstream f(dir + "/blocks.txt");
    for (const auto& b : s.map_blocks) f << hex(b.phys) << ' ' << b.order << ' ' << b.kind << '\n';
    std::ofstream m(dir + "/metadata.txt");
    for (const auto& [p, page] : s.pages)
        if (p != s.fdt && !(p >= s.blob && p < s.blob + s.blob_size)) m << hex(p) << '\n';
}

// The "kho-scratch" entry key: ADDR:SIZE per region, comma-separated.
std::string scratch_key(const State& s) {
    std::string key;
    for (const auto& sc : s.scratch) key += (key.empty() ? "" : ",") + hex(sc.addr) + ":" + hex(sc.size);
    return key;
}

void write_state_json(const State& s, const std::string& dir, const std::vector<Blob>& blobs,
                      const std::string& scratch, const std::string& desc_hex) {
    uint64_t below = 0, above = 0;
    for (const auto& e : s.entries) (e.phys >= (1ull << 32) ? above : below)++;
    std::ostringstream j;
    j << "{\n  \"format\": \"" << format_name(s.format) << "\",\n"
      << "  \"fdt\": " << s.fdt << ",\n  \"fdt_size\": 4096,\n"
      << "  \"map\": " << s.map_root << ",\n  \"manifest\": " << s.manifest << ",\n"
      << "  \"manifest_size\": " << s.manifest_size << ",\n"
      << "  \"blocks\": " << s.entries.size() << ",\n  \"blocks_below_4g\": " << below
      << ",\n  \"blocks_above_4g\": " << above << ",\n"
      << "  \"map_blocks\": " << s.map_blocks.size() << ",\n"
      << "  \"table_pages\": " << s.table_pages << ",\n  \"leaf_pages\": " << s.leaf_pages << ",\n"
      << "  \"written_bytes\": " << s.written_bytes << ",\n  \"scratch\": [";
    for (size_t i = 0; i < s.scratch.size(); ++i)
        j << (i ? ", " : "") << "[" << s.scratch[i].addr << ", " << s.scratch[i].size << "]";
    j << "],\n  \"entry_keys\": {\"kho-fdt\": \"" << hex(s.fdt) << "\"";
    if (!scratch.empty()) j << ", \"kho-scratch\": \"" << scratch << "\"";
    j << "},\n  \"descriptor\": \"descriptor.bin\",\n  \"descriptor_hex\": \"" << desc_hex << "\",\n"
      << "  \"blobs\": [";
    for (size_t i = 0; i < blobs.size(); ++i)
        j << (i ? ",\n    " : "\n    ") << "{\"file\": \"" << blobs[i].file << "\", \"addr\": " << blobs[i].addr
          << ", \"size\": " << blobs[i].size << "}";
    j << "\n  ],\n  \"blocks_file\": \"blocks.txt\",\n  \"metadata_file\": \"metadata.txt\"\n}\n";
    std::ofstream(dir + "/state.json") << j.str();
}

void write_state_sh(const State& s, const std::string& dir, const std::vector<Blob>& blobs,
                    const std::string& scratch) {
    std::ostringstream sh;
    sh << "# khotool synth output; paths relative to this directory\n"
       << "KHO_FORMAT=" << format_name(s.format) << "\nKHO_FDT=" << hex(s.fdt) << "\nKHO_SCRATCH=" << scratch
       << "\nKHO_BLOCKS=" << s.entries.size() << "\nQEMU_LOADER_ARGS=\"";
    for (const auto& b : blobs) sh << " -device loader,file=" << b.file << ",addr=" << hex(b.addr) << ",force-raw=on";
    sh << "\"\n";
    std::ofstream(dir + "/state.sh") << sh.str();
}

}  // namespace

std::string write_output(const State& s, const std::string& dir, std::vector<Blob>* blobs) {
    ::mkdir(dir.c_str(), 0755);
    blobs->clear();
    std::string err = write_blobs(s, dir, blobs);
    if (!err.empty()) return err;
    std::string desc_hex;
    err = write_descriptor(s, dir, &desc_hex);
    if (!err.empty()) return err;
    write_block_lists(s, dir);
    std::string scratch = scratch_key(s);
    write_state_json(s, dir, *blobs, scratch, desc_hex);
    write_state_sh(s, dir, *blobs, scratch);
    return "";
}

}  // namespace kho::synth
