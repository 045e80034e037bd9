// How a kernel of one architecture is handed its boot data: the part of a
// boot the flow (boot_flow.h) leaves to the architecture. One module per
// architecture implements it (loader/x86_handover.cpp: boot_params and
// setup_data; loader/arm64_handover.cpp: the device tree's /chosen for the
// EFI stub); efi/ passes the one its build links, host tests use either.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "bzimage.h"
#include "kernel_placement.h"
#include "secure_boot.h"
#include "status.h"
#include "../abi/kho_scratch.h"

namespace kho {

class BootFlow;
class CommandLine;
class SetupDataChain;
struct BootFacts;
struct HandoverDescriptor;
struct LoadedImages;
struct Handoff;

struct BootDataInputs {
    const LoadedImages* images = nullptr;
    const uint8_t* kernel_prefix = nullptr;  // the kernel file's first bytes
    size_t prefix_len = 0;
    const CommandLine* cmdline = nullptr;
    const BootFacts* facts = nullptr;
    bool handover = false;
    const HandoverDescriptor* desc = nullptr;  // handover: FDT and scratch table
    bool multikernel = false;
    // x86 boot_params.secure_boot: the firmware's mode in Linux's terms, so
    // the kernel locks itself down (LOCK_DOWN_IN_EFI_SECURE_BOOT) as it
    // would behind its own EFI stub. (arm64's stub reads it itself.)
    SecureBootMode secure_boot = SecureBootMode::Unset;
};

class BootProtocol {
public:
    // The UEFI machine name BLS entries use in `architecture` ("x64",
    // "aa64"; systemd's EFI_MACHINE_TYPE_NAME).
    virtual const char* efi_architecture() const = 0;
    // The kernel file's header (its first `prefix_len` bytes, at most
    // kBzImagePrefix) as placement needs it: the BzImage fields setup_size
    // (where the bytes to load start in the file), payload_size,
    // init_size, alignment, min_load, max_end, initrd_max_end,
    // cmdline_max and protocol.
    virtual Status read_kernel(const uint8_t* prefix, size_t prefix_len, uint64_t file_size,
                               BzImage* out) const = 0;
    // The kernel needs room beyond its header's init_size for the initrd
    // (arm64: the EFI stub copies it); default none.
    virtual void add_initrd(BzImage* image, uint64_t initrd_total) const {
        (void)image;
        (void)initrd_total;
    }
    // The boot-data block, placed outside scratch.
    virtual BootDataLayout layout(size_t cmdline_len, size_t scratch_count, size_t map_descriptors_max,
                                  size_t descriptor_size, const BootFacts& facts) const = 0;
    // Writes the block (`block` = images->layout.size bytes at
    // images->boot_data) and fills what the caller needs to start the
    // kernel; logs the protocol lines through `flow`.
    virtual Status write_boot_data(const BootDataInputs& in, uint8_t* block, SetupDataChain* chain,
                                   Handoff* out, BootFlow& flow) const = 0;

protected:
    ~BootProtocol() = default;
};

// The modules (x86_handover.cpp, arm64_handover.cpp).
const BootProtocol& x86_protocol();
const BootProtocol& arm64_protocol();

}  // namespace kho
