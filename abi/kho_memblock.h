// memblock reserve_mem sub-ABI: sub-node "memblock" holds a sub-FDT with
// compatible "memblock-v1" and one child per reserve_mem= region
// (compatible "reserve-mem-v1", native-endian u64 "start" and "size").
// Source: include/linux/kho/abi/memblock.h @c17ee635. The next kernel only
// re-adopts a region if its own command line names it in reserve_mem=.
#pragma once

namespace kho::abi::memblock {

inline constexpr const char kSubnodeName[] = "memblock";
inline constexpr const char kCompatible[] = "memblock-v1";
inline constexpr const char kRegionCompatible[] = "reserve-mem-v1";
inline constexpr const char kPropStart[] = "start";
inline constexpr const char kPropSize[] = "size";

}  // namespace kho::abi::memblock
