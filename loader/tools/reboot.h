// khotool reboot: carry this kernel's KHO state and LUO sessions through
// the firmware into khoboot (reboot.cpp says how; reboot_plan.h the rules).
#pragma once

namespace kho::tools {

// argv holds what follows "reboot". Exit 0 after --dry-run (a real reboot
// does not return), 1 a failed check or step (one "khotool: error KIND:
// WHAT" line, nothing changed), 2 usage.
int khotool_reboot(int argc, char** argv);

}  // namespace kho::tools
