// Integrity-manifest verification speed (kho-verify=full): see bench_verify.cpp.
#pragma once

// Prints the BENCH verify-crc32 lines; false if a verification that must
// pass did not.
bool run_verify_benchmarks();
