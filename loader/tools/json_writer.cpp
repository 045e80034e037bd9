#include "json_writer.h"

#include <string.h>

namespace kho::tools {
namespace {

// Single-threaded output: the stdio calls without per-call locking (a
// listing of millions of blocks is a hundred million of them).
void put(FILE* f, char c) { putc_unlocked(c, f); }
void put(FILE* f, const char* s, size_t n) { fwrite_unlocked(s, 1, n, f); }
void put(FILE* f, const char* s) { put(f, s, strlen(s)); }

constexpr char kHex[] = "0123456789abcdef";

void append_u16_escape(std::string& out, uint32_t unit) {
    out += "\\u";
    out += kHex[(unit >> 12) & 15];
    out += kHex[(unit >> 8) & 15];
    out += kHex[(unit >> 4) & 15];
    out += kHex[unit & 15];
}

bool in(uint8_t b, uint8_t lo, uint8_t hi) { return b >= lo && b <= hi; }

// Length of the well-formed UTF-8 sequence at p (Unicode 15, table 3-7),
// with its code point in *cp; 0 if p[0] does not start one.
size_t utf8_sequence(const uint8_t* p, size_t n, uint32_t* cp) {
    const uint8_t b0 = p[0];
    if (b0 < 0x80) {
        *cp = b0;
        return 1;
    }
    auto cont = [&](size_t i, uint8_t lo = 0x80, uint8_t hi = 0xbf) {
        return i < n && in(p[i], lo, hi);
    };
    if (in(b0, 0xc2, 0xdf)) {
        if (!cont(1)) return 0;
        *cp = (uint32_t(b0 & 0x1f) << 6) | (p[1] & 0x3f);
        return 2;
    }
    if (in(b0, 0xe0, 0xef)) {
        uint8_t lo = b0 == 0xe0 ? 0xa0 : 0x80;  // no overlong forms
        uint8_t hi = b0 == 0xed ? 0x9f : 0xbf;  // no surrogates
        if (!cont(1, lo, hi) || !cont(2)) return 0;
        *cp = (uint32_t(b0 & 0x0f) << 12) | (uint32_t(p[1] & 0x3f) << 6) | (p[2] & 0x3f);
        return 3;
    }
    if (in(b0, 0xf0, 0xf4)) {
        uint8_t lo = b0 == 0xf0 ? 0x90 : 0x80;  // no overlong forms
        uint8_t hi = b0 == 0xf4 ? 0x8f : 0xbf;  // nothing above U+10FFFF
        if (!cont(1, lo, hi) || !cont(2) || !cont(3)) return 0;
        *cp = (uint32_t(b0 & 0x07) << 18) | (uint32_t(p[1] & 0x3f) << 12) |
              (uint32_t(p[2] & 0x3f) << 6) | (p[3] & 0x3f);
        return 4;
    }
    return 0;  // 0x80-0xc1 (continuation or overlong lead), 0xf5-0xff
}

}  // namespace

std::string json_quote(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size() + 2);
    out += '"';
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
    const size_t n = bytes.size();
    for (size_t i = 0; i < n;) {
        const uint8_t b = p[i];
        if (b >= 0x20 && b < 0x7f) {
            if (b == '"' || b == '\\') out += '\\';
            out += char(b);
            ++i;
            continue;
        }
        switch (b) {
        case '\b': out += "\\b"; ++i; continue;
        case '\f': out += "\\f"; ++i; continue;
        case '\n': out += "\\n"; ++i; continue;
        case '\r': out += "\\r"; ++i; continue;
        case '\t': out += "\\t"; ++i; continue;
        default: break;
        }
        if (b < 0x80) {  // other controls and DEL
            append_u16_escape(out, b);
            ++i;
            continue;
        }
        uint32_t cp = 0;
        size_t len = utf8_sequence(p + i, n - i, &cp);
        if (len == 0) {
            append_u16_escape(out, 0xfffd);
            ++i;
            continue;
        }
        if (cp >= 0x10000) {
            cp -= 0x10000;
            append_u16_escape(out, 0xd800 | (cp >> 10));
            append_u16_escape(out, 0xdc00 | (cp & 0x3ff));
        } else {
            append_u16_escape(out, cp);
        }
        i += len;
    }
    out += '"';
    return out;
}

std::string printable(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size());
    for (char c : bytes) {
        const uint8_t b = uint8_t(c);
        if (b == '\\') {
            out += "\\\\";
        } else if (b >= 0x20 && b < 0x7f) {
            out += c;
        } else {
            out += "\\x";
            out += kHex[b >> 4];
            out += kHex[b & 15];
        }
    }
    return out;
}

// Members of the top-level object go on lines of their own (readable, and
// a diff of two states lines up); everything deeper is on one line.
void JsonWriter::separator(const Frame& f) {
    if (f.object && stack_.size() == 1)
        put(out_, f.count ? ",\n " : "\n ");
    else if (f.count)
        put(out_, ", ", 2);
}

bool JsonWriter::before_value() {
    if (misused_) return false;
    if (stack_.empty()) {
        if (root_done_) {
            misused_ = true;
            return false;
        }
        return true;
    }
    Frame& f = stack_.back();
    if (f.object) {
        if (!f.have_key) {
            misused_ = true;
            return false;
        }
        return true;  // key() wrote the separator
    }
    separator(f);
    return true;
}

void JsonWriter::after_value() {
    if (stack_.empty()) {
        root_done_ = true;
        return;
    }
    Frame& f = stack_.back();
    f.have_key = false;
    ++f.count;
}

void JsonWriter::begin_object() {
    if (!before_value()) return;
    put(out_, '{');
    stack_.push_back(Frame{true, false, 0});
}

void JsonWriter::begin_array() {
    if (!before_value()) return;
    put(out_, '[');
    stack_.push_back(Frame{false, false, 0});
}

void JsonWriter::end_object() {
    if (misused_) return;
    if (stack_.empty() || !stack_.back().object || stack_.back().have_key) {
        misused_ = true;
        return;
    }
    if (stack_.size() == 1 && stack_.back().count) put(out_, '\n');
    stack_.pop_back();
    put(out_, '}');
    after_value();
}

void JsonWriter::end_array() {
    if (misused_) return;
    if (stack_.empty() || stack_.back().object) {
        misused_ = true;
        return;
    }
    stack_.pop_back();
    put(out_, ']');
    after_value();
}

void JsonWriter::key(std::string_view name) {
    if (misused_) return;
    if (stack_.empty() || !stack_.back().object || stack_.back().have_key) {
        misused_ = true;
        return;
    }
    Frame& f = stack_.back();
    separator(f);
    std::string q = json_quote(name);
    put(out_, q.data(), q.size());
    put(out_, ": ", 2);
    f.have_key = true;
}

void JsonWriter::string(std::string_view bytes) {
    if (!before_value()) return;
    std::string q = json_quote(bytes);
    put(out_, q.data(), q.size());
    after_value();
}

void JsonWriter::number(uint64_t value) {
    if (!before_value()) return;
    char buf[24];
    char* p = buf + sizeof(buf);
    do {
        *--p = char('0' + value % 10);
        value /= 10;
    } while (value);
    put(out_, p, size_t(buf + sizeof(buf) - p));
    after_value();
}

void JsonWriter::boolean(bool value) {
    if (!before_value()) return;
    put(out_, value ? "true" : "false");
    after_value();
}

void JsonWriter::null() {
    if (!before_value()) return;
    put(out_, "null", 4);
    after_value();
}

bool JsonWriter::finish() {
    if (!misused_ && (!stack_.empty() || !root_done_)) misused_ = true;
    put(out_, '\n');
    fflush(out_);
    return ok();
}

}  // namespace kho::tools
