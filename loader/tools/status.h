// `khotool status`: what the last boot through khoboot did, read from the
// KhoBootStatus variable khoboot writes at the end of every boot
// (abi/boot_record.h) through efivarfs, parsed by the core's
// parse_boot_status() (loader/boot_attempt.h) and printed for people or,
// with --json, as one JSON object.
#pragma once

namespace kho::tools {

// argv holds what follows "status". Exit 0 printed, 1 no variable or a
// malformed one (one "khotool: error KIND: WHAT" line), 2 usage.
int khotool_status(int argc, char** argv);

}  // namespace kho::tools
