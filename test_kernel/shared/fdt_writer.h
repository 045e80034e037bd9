// A minimal sequential flattened-devicetree writer (Devicetree
// Specification v0.4, chapter 5: header, empty memory reservation block,
// structure block, strings block; big-endian tokens). KHO property values
// themselves are native-endian (docs/kho-abi.md 3.2), which is the caller's
// business. Written for the producers (test_kernel, khotool synth) so that
// the state they build does not depend on the loader's FDT code.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace tk::fdt {

inline constexpr uint32_t kMagic = 0xd00dfeed;
inline constexpr uint32_t kBeginNode = 1, kEndNode = 2, kProp = 3, kNop = 4, kEnd = 9;
inline constexpr uint32_t kHeaderSize = 40;

inline void put_be32(uint8_t* p, uint32_t v) {
    p[0] = uint8_t(v >> 24);
    p[1] = uint8_t(v >> 16);
    p[2] = uint8_t(v >> 8);
    p[3] = uint8_t(v);
}

class Writer {
public:
    Writer(uint8_t* buf, size_t capacity) : buf_(buf), cap_(capacity) {
        // header, then an empty reservation map (one zero 16-byte entry)
        pos_ = kHeaderSize + 16;
        if (cap_ < pos_) ok_ = false;
        else
            for (size_t i = 0; i < pos_; ++i) buf_[i] = 0;
    }

    void begin_node(const char* name) {
        token(kBeginNode);
        bytes(name, len(name) + 1);
        pad4();
    }
    void end_node() { token(kEndNode); }
    // Returns a pointer to the property's value bytes in the buffer (so a
    // caller can fill a large value in place), or nullptr on overflow.
    uint8_t* prop(const char* name, const void* data, uint32_t n) {
        token(kProp);
        uint8_t hdr[8];
        put_be32(hdr, n);
        put_be32(hdr + 4, string_offset(name));
        bytes(hdr, 8);
        uint8_t* value = ok_ && pos_ + n <= cap_ ? buf_ + pos_ : nullptr;
        if (data) bytes(data, n);
        else skip(n);
        pad4();
        return ok_ ? value : nullptr;
    }
    // As prop(), with the value 8-byte aligned within the blob (a NOP token
    // first if needed), so that a structure stored in it can be read in place.
    uint8_t* prop_aligned8(const char* name, const void* data, uint32_t n) {
        if ((pos_ + 12) % 8) token(kNop);
        return prop(name, data, n);
    }
    void prop_string(const char* name, const char* s) { prop(name, s, uint32_t(len(s) + 1)); }
    void prop_u64_native(const char* name, uint64_t v) {
        uint8_t b[8];
        for (int i = 0; i < 8; ++i) b[i] = uint8_t(v >> (8 * i));
        prop(name, b, 8);
    }

    // Appends the strings block and writes the header; false on overflow.
    bool finish() {
        token(kEnd);
        uint32_t struct_off = kHeaderSize + 16;
        uint32_t struct_size = uint32_t(pos_ - struct_off);
        uint32_t strings_off = uint32_t(pos_);
        bytes(strings_, strings_len_);
        if (!ok_) return false;
        total_ = uint32_t(pos_);
        put_be32(buf_ + 0, kMagic);
        put_be32(buf_ + 4, total_);
        put_be32(buf_ + 8, struct_off);
        put_be32(buf_ + 12, strings_off);
        put_be32(buf_ + 16, kHeaderSize);  // off_mem_rsvmap
        put_be32(buf_ + 20, 17);           // version
        put_be32(buf_ + 24, 16);           // last_comp_version
        put_be32(buf_ + 28, 0);            // boot_cpuid_phys
        put_be32(buf_ + 32, strings_len_);
        put_be32(buf_ + 36, struct_size);
        return true;
    }
    uint32_t total_size() const { return total_; }
    bool ok() const { return ok_; }

private:
    static size_t len(const char* s) {
        size_t n = 0;
        while (s[n]) ++n;
        return n;
    }
    void bytes(const void* p, size_t n) {
        if (!ok_ || pos_ + n > cap_) {
            ok_ = false;
            return;
        }
        const uint8_t* s = static_cast<const uint8_t*>(p);
        for (size_t i = 0; i < n; ++i) buf_[pos_ + i] = s[i];
        pos_ += n;
    }
    void skip(size_t n) {
        if (!ok_ || pos_ + n > cap_) {
            ok_ = false;
            return;
        }
        pos_ += n;
    }
    void token(uint32_t t) {
        uint8_t b[4];
        put_be32(b, t);
        bytes(b, 4);
    }
    void pad4() {
        while (ok_ && (pos_ & 3)) bytes("", 1);
    }
    uint32_t string_offset(const char* name) {
        // reuse an existing string (names are few)
        for (uint32_t off = 0; off < strings_len_;) {
            const char* s = reinterpret_cast<const char*>(strings_ + off);
            size_t n = len(s);
            if (n == len(name)) {
                bool same = true;
                for (size_t i = 0; i < n; ++i) same = same && s[i] == name[i];
                if (same) return off;
            }
            off += uint32_t(n + 1);
        }
        uint32_t off = strings_len_;
        size_t n = len(name) + 1;
        if (strings_len_ + n > sizeof(strings_)) {
            ok_ = false;
            return 0;
        }
        for (size_t i = 0; i < n; ++i) strings_[strings_len_ + i] = uint8_t(name[i]);
        strings_len_ += uint32_t(n);
        return off;
    }

    uint8_t* buf_;
    size_t cap_;
    size_t pos_ = 0;
    bool ok_ = true;
    uint32_t total_ = 0;
    uint8_t strings_[256] = {};
    uint32_t strings_len_ = 0;
};

}  // namespace tk::fdt
