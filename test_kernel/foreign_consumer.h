// Foreign mode (tk.foreign=1): checks a KHO state that another kernel
// produced, such as a real Linux state exported by `khotool export`.
// Such a state carries no test manifest and no pattern digests, so the
// manifest, scratch-match and contents checks of consumer.cpp cannot run;
// what a foreign state can be held to is structural: one setup_data node,
// a valid root FDT with a non-zero map, a sane scratch table holding the
// kernel, and a preserved-memory map that this kernel's own decoder walks
// to the end, every block and map page RAM and clear of what the loader
// placed. The map check prints the block and page counts, which a
// scenario compares with what the producer and the loader reported.
#pragma once
#include "boot_info.h"
#include "efi_runtime.h"
#include "options.h"

namespace tk {

// Runs the foreign-mode checks, one protocol line each, and an info line
// naming the checks that ran.
void consume_foreign(const BootInfo& bi, const Options& o, const EfiRuntime* rt);

}  // namespace tk
