// The firmware's Boot#### load options (UEFI 2.10 section 3.1.3), read and
// changed through efibootmgr(8), the tool every distribution uses for it:
// it builds the device path and keeps BootOrder consistent.
#pragma once
#include <string>
#include <vector>

#include "esp_device.h"

namespace kho::tools::install {

struct BootOption {
    int number = -1;
    bool active = false;
    std::string label;
};

// efibootmgr's listing: "Boot0003* label" (active) or "Boot0003  label",
// with -v (and by default from version 18) a tab and the device path
// after the label. Other lines (BootCurrent, BootOrder, ...) are skipped.
std::vector<BootOption> parse_boot_options(const std::string& listing);

// Every option, or "" and the error.
std::string list_boot_options(std::vector<BootOption>* out);

// The efibootmgr command that registers `loader` (an ESP path such as
// \EFI\khoboot\khobootx64.efi) as `label`. --create-only leaves BootOrder
// alone: khoboot is reached through BootNext (khotool reboot) unless the
// operator asks for it to come first.
std::vector<std::string> create_command(const EspDevice& dev, const std::string& label, const std::string& loader,
                                        bool first_in_boot_order);
std::vector<std::string> delete_command(int number);

// Runs `argv` (an efibootmgr command); "" or one line saying what failed.
std::string run_efibootmgr(const std::vector<std::string>& argv);

std::string boot_name(int number);  // "Boot0003"

}  // namespace kho::tools::install
