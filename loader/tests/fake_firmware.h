// FakeFirmware: a model of UEFI for the boot flow (loader/firmware.h) in
// host tests. Its memory map is a list of typed segments that
// AllocatePages(AllocateAddress) splits exactly as a firmware's next
// GetMemoryMap() shows it (allocation only from Conventional memory, all
// or nothing); RAM bytes live in a FakePhysMem; variables, ESP files, the
// keyboard and the console are plain containers a test fills and reads.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fake_phys_mem.h"
#include "loader/firmware.h"
#include "loader/range_set.h"

namespace khotest {

// A 64-bit relocatable bzImage (setup header as boot.rst lays it out) of
// `init_size` bytes' decompression window, for boots against the model.
std::vector<uint8_t> make_test_bzimage(uint64_t init_size);

class FakeFirmware final : public kho::Firmware {
public:
    // RAM [start, end) is one Conventional segment; nothing is backed yet
    // (back() or a PageArena over mem() adds bytes).
    FakeFirmware(uint64_t ram_start, uint64_t ram_end);

    // The firmware's own use of memory: [start, end) becomes `efi_type`.
    void set_type(uint64_t start, uint64_t end, uint32_t efi_type);
    uint32_t type_at(uint64_t addr) const;
    FakePhysMem& mem() { return mem_; }

    std::optional<std::vector<uint8_t>>& variable(kho::KhoVariable v) { return vars_[size_t(v)]; }
    bool fail_writes[kho::kKhoVariableCount] = {};  // per KhoVariable: SetVariable fails
    uint32_t attributes[kho::kKhoVariableCount] = {7, 7, 7, 7, 7, 7, 7};  // per KhoVariable: NV|BS|RT, as producers write
    std::map<std::string, std::vector<uint8_t>> files;
    std::set<std::string> fail_reads;  // read_file() of these fails (a bad sector)
    // The Boot Loader Interface variables by name (systemd's vendor GUID).
    // Written by the OS (non-volatile) unless named in volatile_loader_vars;
    // write_loader_variable() writes volatile ones, as khoboot does.
    std::map<std::string, std::vector<uint8_t>> loader_vars;
    std::set<std::string> volatile_loader_vars;
    std::vector<uint16_t> keys;
    std::vector<std::string> lines;
    uint64_t watchdog_seconds = 0;
    size_t pool_allocations = 0;
    size_t page_allocations = 0;

    bool logged(const std::string& needle) const;
    std::string log_text() const;

    kho::Status memory_map(void* buffer, size_t capacity, kho::MemoryMapSnapshot* out) override;
    kho::Status memory_map_size(size_t* count, size_t* descriptor_size) override;
    kho::Status allocate_at(uint64_t start, uint64_t end, uint32_t efi_type) override;
    void free_at(uint64_t start, uint64_t end) override;
    kho::Status allocate_pool(size_t bytes, void** out) override;
    kho::FirmwareRam& ram() override { return ram_; }
    // Every backed byte, whatever the map says owns it.
    const kho::PhysMem& physical() override { return mem_; }
    // Records the request and fails, as a firmware whose ResetSystem
    // returns: the flow goes on, and a test reads what it left behind.
    kho::Status reset_warm() override;
    size_t warm_resets = 0;
    // Called by reset_warm() before it fails: a test looks at RAM and the
    // variables as a real reset would leave them to the next boot.
    std::function<void(FakeFirmware&)> on_warm_reset;
    kho::Status read_variable(kho::KhoVariable v, void* buf, size_t capacity, size_t* len,
                              bool* found) override;
    kho::Status write_variable(kho::KhoVariable v, const void* data, size_t len) override;
    kho::Status delete_variable(kho::KhoVariable v) override;
    uint32_t variable_attributes(kho::KhoVariable v) override { return attributes[size_t(v)]; }
    kho::Status read_loader_variable(const char* name, void* buf, size_t capacity, size_t* len,
                                     bool* found, bool* non_volatile) override;
    kho::Status write_loader_variable(const char* name, const void* data, size_t len,
                                      bool non_volatile = false) override;
    kho::Status delete_loader_variable(const char* name) override;
    kho::Status open_esp() override { return kho::Status::ok(); }
    kho::Status file_size(const char* path, uint64_t* size) override;
    kho::Status read_file(const char* path, uint64_t offset, void* dst, uint64_t len) override;
    kho::Status list_dir(const char* dir, const char* suffix, kho::DirVisitor& visit) override;
    void log_line(const char* text, bool serial_only) override;
    void hold_console(bool) override {}
    uint64_t mark_phase(const char* name, uint64_t start, uint64_t* us) override;
    uint64_t now() override { return ++clock_; }
    uint64_t us_since_entry() override { return clock_; }
    kho::Status set_watchdog(uint64_t seconds) override;
    bool read_key(uint16_t* ch) override;
    void stall_us(uint64_t) override {}

    // Secure Boot model: the variables as a test sets them; the "db" is
    // the set of exact images accepted (a flipped byte is another image);
    // every check is recorded.
    kho::SecureBootVariables secure_boot_vars{};
    bool secure_boot_read_fails = false;
    bool shim = false;
    std::set<std::vector<uint8_t>> authorized;
    struct Verification {
        kho::KernelVerifier how;
        std::vector<uint8_t> image;
    };
    std::vector<Verification> verifications;
    // TPM model: present or not; each measurement as logged.
    bool tpm = false;
    struct Measurement {
        uint32_t pcr, event_type;
        std::vector<uint8_t> event, data;
    };
    std::vector<Measurement> measurements;
    size_t tpm_logs_published = 0;  // the log handed on, after how many measurements
    size_t measurements_before_publish = 0;

    kho::Status read_secure_boot(kho::SecureBootVariables* out) override;
    bool shim_present() override { return shim; }
    kho::Status verify_image(kho::KernelVerifier how, const void* image, uint64_t len) override;
    bool tpm_present() override { return tpm; }
    kho::Status measure(uint32_t pcr, uint32_t event_type, const void* event, uint32_t event_len,
                        const void* data, uint64_t len) override;
    kho::Status publish_tpm_log(uint64_t* bytes, uint64_t* final_events) override {
        tpm_logs_published++;
        measurements_before_publish = measurements.size();
        *bytes = 4096 * measurements.size();
        *final_events = 0;
        return kho::Status::ok();
    }

private:
    struct Segment {
        uint64_t start, end;
        uint32_t type;
    };
    class Ram final : public kho::FirmwareRam {
    public:
        explicit Ram(FakeFirmware& fw) : fw_(fw), ram_(storage_, 1024) {}
        kho::Status load(const kho::FirmwareMemoryMap& map) override;
        const uint8_t* view(uint64_t addr, uint64_t len) const override;
        bool is_ram(uint64_t addr, uint64_t len) const override;
        uint8_t* writable(uint64_t addr, uint64_t len) override;

    private:
        FakeFirmware& fw_;
        kho::Range storage_[1024];
        kho::RangeSet ram_;
    };
    bool all_of_type(uint64_t start, uint64_t end, uint32_t type) const;

    std::vector<Segment> segments_;  // sorted, disjoint, covering RAM
    FakePhysMem mem_;
    Ram ram_{*this};
    std::array<std::optional<std::vector<uint8_t>>, kho::kKhoVariableCount> vars_;
    std::vector<std::unique_ptr<uint8_t[]>> pools_;
    uint64_t clock_ = 0;
};

}  // namespace khotest
