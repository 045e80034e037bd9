// multikernel-v1 (Cong Wang RFC v2 16/16, Oct 2025): a one-page FDT with
// root compatible "multikernel-v1" and node multikernel { dtb-data = <...> }.
// The x86 handover carries it in SETUP_KEXEC_KHO with scratch_addr =
// scratch_size = 0, which the consumer's add_kho() reads as "multikernel";
// a normal KHO boot must therefore never pass scratch 0/0.
#pragma once
#include <stdint.h>

namespace kho::abi::multikernel {

inline constexpr const char kCompatible[] = "multikernel-v1";
inline constexpr const char kNode[] = "multikernel";
inline constexpr const char kPropDtbData[] = "dtb-data";
inline constexpr uint64_t kScratchAddr = 0;
inline constexpr uint64_t kScratchSize = 0;

}  // namespace kho::abi::multikernel
