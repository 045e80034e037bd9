// Version comparison as systemd orders boot entries: strverscmp_improved()
// of systemd (src/fundamental/string-util-fundamental.c, v252), itself
// modelled on RPM's rpmvercmp(). The rules, in systemd's words of
// docs/BOOT_LOADER_SPECIFICATION ("Sorting"): a version is a run of
// segments, digits or letters, split by '.', '-', '^', '~'; numeric
// segments compare by value and sort after alphabetic ones; '~' marks a
// pre-release (older than no suffix), '-' separates version from release,
// '^' marks a patched release; with equal segments, more segments is newer.
// Characters outside [0-9A-Za-z.~^-] are skipped.
#pragma once

namespace kho {

// <0, 0 or >0 as `a` is older than, equal to or newer than `b`. A null
// string is older than any other, an empty one older than any non-empty.
int version_compare(const char* a, const char* b);

}  // namespace kho
