// `khotool inspect`: shows what a KHO state in RAM dumps contains, and with
// --json emits the machine contract the test scripts rely on.
#pragma once

namespace kho::tools {

int khotool_inspect(int argc, char** argv);

}  // namespace kho::tools
