// `khotool install` and `khotool remove`: khoboot onto an EFI System
// Partition beside whatever is there, and off it again.
//
// install writes only under EFI/khoboot/ (the loader and the install
// record, install_record.h), plus loader/loader.conf when the ESP has
// none. It never writes another loader's files (EFI/BOOT/BOOTX64.EFI,
// EFI/systemd/, EFI/debian/, ...) or an existing loader.conf. With NVRAM
// access it registers a Boot#### option through efibootmgr, by default
// outside BootOrder (khotool reboot reaches it through BootNext). A second
// install upgrades the loader in place and keeps the option.
//
// remove reads the record and undoes exactly what it lists.
#pragma once

namespace kho::tools {

// argv holds what follows the command's name. Exit 0 done, 1 failed (one
// "khotool: error KIND: WHAT" line), 2 usage.
int khotool_install(int argc, char** argv);
int khotool_remove(int argc, char** argv);

}  // namespace kho::tools
