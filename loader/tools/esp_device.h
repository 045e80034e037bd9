// Which disk and partition hold a mounted ESP, the two things efibootmgr
// needs to write a Boot#### option's HD() device path (UEFI 2.10 section
// 10.3.5.1, "Hard Drive Media Device Path"). findmnt names the block
// device under the directory; sysfs says which partition of which disk
// it is (/sys/class/block/NAME/partition, and NAME's parent directory is
// the whole disk: Documentation/ABI/testing/sysfs-block).
#pragma once
#include <string>

namespace kho::tools::install {

struct EspDevice {
    std::string disk;       // /dev/nvme0n1
    unsigned partition = 0; // 1
};

// "" or one message saying why `esp_dir` cannot be registered: not a mount
// point (a Boot#### path is relative to the filesystem's root), not FAT,
// not a partition of a disk.
std::string find_esp_device(const std::string& esp_dir, const std::string& sysfs, EspDevice* out);

}  // namespace kho::tools::install
