// `khotool inspect`: checks a KHO state held in RAM dumps the way khoboot
// does before a handover (read_kho_fdt, collect_protected, the memory plan
// against a firmware map made of the given RAM) and shows what it holds;
// with --json it emits the machine contract the test scripts rely on,
// streamed: no per-block storage, whatever the state's size.
#pragma once

namespace kho::tools {

// argv holds what follows "inspect" on the command line. Returns the exit
// code: 0 accepted, 1 refused (one "khotool: error KIND: WHAT" line), 2 usage.
int khotool_inspect(int argc, char** argv);

}  // namespace kho::tools
