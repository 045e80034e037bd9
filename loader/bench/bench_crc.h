// Checksum speed against a plain read of the same bytes: see bench_crc.cpp.
#pragma once

// Prints the BENCH crc lines; false if the two CRC-32C paths disagree.
bool run_crc_benchmarks();
