// "kexec-metadata" KHO sub-node blob (Breno Leitao, 2026;
// include/linux/kho/abi/kexec_metadata.h @40735a68): which kernel release
// produced the state and how many kexecs preceded it.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace kho::abi::kexec_metadata {

inline constexpr const char kSubnodeName[] = "kexec-metadata";

struct __attribute__((packed)) Blob {
    uint32_t version;  // 1
    char previous_release[65];
    uint32_t kexec_count;
};
static_assert(sizeof(Blob) == 73);
static_assert(offsetof(Blob, kexec_count) == 69);

}  // namespace kho::abi::kexec_metadata
