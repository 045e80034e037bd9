// kho::Firmware (loader/firmware.h) with UEFI boot services: the calls the
// boot flow asks for, performed and nothing decided.
#pragma once
#include "../loader/firmware.h"
#include "firmware_memory.h"

namespace khoefi {

class UefiFirmware final : public kho::Firmware {
public:
    UefiFirmware(kho::Range* ram_storage, size_t ram_capacity) : ram_(ram_storage, ram_capacity) {}

    kho::Status memory_map(void* buffer, size_t capacity, kho::MemoryMapSnapshot* out) override;
    kho::Status memory_map_size(size_t* count, size_t* descriptor_size) override;
    kho::Status allocate_at(uint64_t start, uint64_t end, uint32_t efi_type) override;
    void free_at(uint64_t start, uint64_t end) override;
    kho::Status allocate_pool(size_t bytes, void** out) override;
    kho::FirmwareRam& ram() override { return ram_; }
    const kho::PhysMem& physical() override { return identity_; }
    kho::Status reset_warm() override;

    kho::Status read_variable(kho::KhoVariable v, void* buf, size_t capacity, size_t* len,
                              bool* found) override;
    kho::Status write_variable(kho::KhoVariable v, const void* data, size_t len) override;
    kho::Status delete_variable(kho::KhoVariable v) override;
    uint32_t variable_attributes(kho::KhoVariable v) override;

    kho::Status read_loader_variable(const char* name, void* buf, size_t capacity, size_t* len,
                                     bool* found, bool* non_volatile) override;
    kho::Status write_loader_variable(const char* name, const void* data, size_t len,
                                      bool non_volatile = false) override;
    kho::Status delete_loader_variable(const char* name) override;

    kho::Status open_esp() override;
    kho::Status file_size(const char* path, uint64_t* size) override;
    kho::Status read_file(const char* path, uint64_t offset, void* dst, uint64_t len) override;
    kho::Status list_dir(const char* dir, const char* suffix, kho::DirVisitor& visit) override;

    void log_line(const char* text, bool serial_only) override;
    void hold_console(bool hold) override;
    void set_log_uart(const kho::UartConfig& uart) override;
    uint64_t mark_phase(const char* name, uint64_t start, uint64_t* us) override;
    uint64_t now() override;
    uint64_t us_since_entry() override;
    kho::Status set_watchdog(uint64_t seconds) override;
    bool read_key(uint16_t* ch) override;
    void stall_us(uint64_t us) override;

    kho::Status read_secure_boot(kho::SecureBootVariables* out) override;
    bool shim_present() override;
    kho::Status verify_image(kho::KernelVerifier how, const void* image, uint64_t len) override;
    bool tpm_present() override;
    kho::Status measure(uint32_t pcr, uint32_t event_type, const void* event, uint32_t event_len,
                        const void* data, uint64_t len) override;
    kho::Status publish_tpm_log(uint64_t* bytes, uint64_t* final_events) override;

private:
    EfiPhysMem ram_;
    IdentityMem identity_;
};

}  // namespace khoefi
