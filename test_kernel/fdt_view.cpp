#include "fdt_view.h"

namespace tk {
namespace {

constexpr uint32_t kMagic = 0xd00dfeed;
constexpr uint32_t kBeginNode = 1, kEndNode = 2, kProp = 3, kNop = 4, kEnd = 9;
constexpr int kMaxDepth = 32;

uint32_t align4(uint32_t v) { return (v + 3) & ~3u; }

bool streq(const char* a, const char* b) {
    while (*a && *a == *b) ++a, ++b;
    return *a == *b;
}

}  // namespace

uint32_t FdtView::be32(uint32_t off) const {
    const uint8_t* p = b_ + off;
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

bool FdtView::open(const uint8_t* blob, uint64_t max_size, const char** why) {
    b_ = blob;
    if (max_size < 40) return *why = "smaller than a header", false;
    if (be32(0) != kMagic) return *why = "bad magic", false;
    total_ = be32(4);
    struct_off_ = be32(8);
    strings_off_ = be32(12);
    uint32_t version = be32(20), last_comp = be32(24);
    strings_size_ = be32(32);
    struct_size_ = be32(36);
    if (total_ > max_size || total_ < 40) return *why = "totalsize out of bounds", false;
    if (version < 17 || last_comp > 17) return *why = "unsupported version", false;
    if (struct_off_ % 4 || uint64_t(struct_off_) + struct_size_ > total_ ||
        uint64_t(strings_off_) + strings_size_ > total_)
        return *why = "block outside totalsize", false;

    // Validate the structure block: exactly one root node, balanced,
    // properties only inside nodes, names terminated, string offsets valid.
    uint32_t pos = 0;
    int depth = 0;
    bool root_done = false;
    for (;;) {
        if (pos + 4 > struct_size_) return *why = "structure block truncated", false;
        uint32_t tok = be32(struct_off_ + pos);
        pos += 4;
        if (tok == kBeginNode) {
            if (root_done) return *why = "second root node", false;
            uint32_t n = pos;
            while (n < struct_size_ && b_[struct_off_ + n]) ++n;
            if (n >= struct_size_) return *why = "unterminated node name", false;
            if (depth == 0 && n != pos) return *why = "root node has a name", false;
            pos = align4(n + 1);
            if (++depth > kMaxDepth) return *why = "nesting too deep", false;
        } else if (tok == kEndNode) {
            if (depth == 0) return *why = "unbalanced end of node", false;
            if (--depth == 0) root_done = true;
        } else if (tok == kProp) {
            if (depth == 0) return *why = "property outside a node", false;
            if (pos + 8 > struct_size_) return *why = "property header truncated", false;
            uint32_t len = be32(struct_off_ + pos), nameoff = be32(struct_off_ + pos + 4);
            pos += 8;
            if (uint64_t(pos) + len > struct_size_) return *why = "property value truncated", false;
            if (nameoff >= strings_size_) return *why = "property name offset", false;
            uint32_t e = nameoff;
            while (e < strings_size_ && b_[strings_off_ + e]) ++e;
            if (e >= strings_size_) return *why = "unterminated property name", false;
            pos = align4(pos + len);
        } else if (tok == kNop) {
        } else if (tok == kEnd) {
            if (depth != 0 || !root_done) return *why = "end before the root node closed", false;
            break;
        } else {
            return *why = "unknown token", false;
        }
    }
    if (be32(struct_off_) != kBeginNode) return *why = "structure does not start with a node", false;
    return true;
}

const char* FdtView::node_name(int node) const {
    return reinterpret_cast<const char*>(b_ + struct_off_ + node + 4);
}

int FdtView::props_start(int node) const {
    uint32_t n = uint32_t(node) + 4;
    while (b_[struct_off_ + n]) ++n;
    return int(align4(n + 1));
}

int FdtView::skip_node(int node) const {
    uint32_t pos = uint32_t(props_start(node));
    int depth = 1;
    while (depth) {
        uint32_t tok = be32(struct_off_ + pos);
        pos += 4;
        if (tok == kBeginNode) {
            uint32_t n = pos;
            while (b_[struct_off_ + n]) ++n;
            pos = align4(n + 1);
            ++depth;
        } else if (tok == kEndNode) {
            --depth;
        } else if (tok == kProp) {
            pos = align4(pos + 8 + be32(struct_off_ + pos));
        }
    }
    return int(pos);
}

int FdtView::first_child(int node) const {
    uint32_t pos = uint32_t(props_start(node));
    for (;;) {
        uint32_t tok = be32(struct_off_ + pos);
        if (tok == kBeginNode) return int(pos);
        if (tok == kEndNode) return -1;
        pos += 4;
        if (tok == kProp) pos = align4(pos + 8 + be32(struct_off_ + pos));
    }
}

int FdtView::next_sibling(int node) const {
    uint32_t pos = uint32_t(skip_node(node));
    for (;;) {
        uint32_t tok = be32(struct_off_ + pos);
        if (tok == kBeginNode) return int(pos);
        if (tok != kNop) return -1;
        pos += 4;
    }
}

int FdtView::subnode(int node, const char* name) const {
    for (int c = first_child(node); c >= 0; c = next_sibling(c))
        if (streq(node_name(c), name)) return c;
    return -1;
}

bool FdtView::prop(int node, const char* name, const uint8_t** value, uint32_t* len) const {
    uint32_t pos = uint32_t(props_start(node));
    for (;;) {
        uint32_t tok = be32(struct_off_ + pos);
        if (tok == kNop) {
            pos += 4;
            continue;
        }
        if (tok != kProp) return false;
        uint32_t l = be32(struct_off_ + pos + 4), nameoff = be32(struct_off_ + pos + 8);
        if (streq(reinterpret_cast<const char*>(b_ + strings_off_ + nameoff), name)) {
            *value = b_ + struct_off_ + pos + 12;
            *len = l;
            return true;
        }
        pos = align4(pos + 12 + l);
    }
}

bool FdtView::prop_is_string(int node, const char* name, const char* expected) const {
    const uint8_t* v;
    uint32_t len;
    if (!prop(node, name, &v, &len) || len == 0 || v[len - 1]) return false;
    return streq(reinterpret_cast<const char*>(v), expected);
}

bool FdtView::prop_u64_native(int node, const char* name, uint64_t* out) const {
    const uint8_t* v;
    uint32_t len;
    if (!prop(node, name, &v, &len) || len != 8) return false;
    uint64_t x = 0;
    for (int i = 7; i >= 0; --i) x = x << 8 | v[i];
    *out = x;
    return true;
}

}  // namespace tk
