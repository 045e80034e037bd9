// The consumer's own flattened-devicetree reader (Devicetree Specification
// v0.4 chapter 5), deliberately independent of libfdt and of the loader:
// a handed-over FDT is checked by other code than the code that accepted
// it. open() validates the whole structure block once (tokens, nesting,
// names, string offsets, bounds); lookups then walk it without re-checks.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace tk {

class FdtView {
public:
    // `max_size`: the bytes available at `blob` (e.g. the page handed over).
    bool open(const uint8_t* blob, uint64_t max_size, const char** why);
    uint32_t total_size() const { return total_; }

    // Node handles are structure-block offsets of FDT_BEGIN_NODE; 0 = root.
    static constexpr int kRoot = 0;
    // Direct child of `node` named `name` (unit address included), or -1.
    int subnode(int node, const char* name) const;
    // Iteration over direct children: first_child(node), next_sibling(child).
    int first_child(int node) const;
    int next_sibling(int node) const;
    const char* node_name(int node) const;
    // Property of `node`; false if absent.
    bool prop(int node, const char* name, const uint8_t** value, uint32_t* len) const;
    // A NUL-terminated string property equal to `expected`.
    bool prop_is_string(int node, const char* name, const char* expected) const;
    // An 8-byte native-endian (little-endian) u64 property, as KHO writes.
    bool prop_u64_native(int node, const char* name, uint64_t* out) const;

private:
    uint32_t be32(uint32_t off) const;
    // Offset just past the node starting at `node` (its END_NODE).
    int skip_node(int node) const;
    int props_start(int node) const;

    const uint8_t* b_ = nullptr;
    uint32_t total_ = 0, struct_off_ = 0, struct_size_ = 0, strings_off_ = 0, strings_size_ = 0;
};

}  // namespace tk
