// One boot, from the firmware's facts to the verdict: hand the KHO state
// over, boot cold, or halt, each with its reason. Every decision khoboot
// makes on a boot is here or in the core functions this calls; the
// firmware (loader/firmware.h) only performs the calls the flow asks for,
// so the whole flow runs under host tests against a model firmware.
//
// The steps (docs/architecture.md has the picture):
//   1. the descriptor variable, the attempt record, and the state it names
//      protected before anything else allocates  (boot_flow_state.cpp)
//   2. the boot entry: loader.conf, entries, load options (boot_flow_config.cpp)
//   3. a static state from the entry's kho-fdt/kho-scratch keys
//   4. kho-verify against the integrity manifest     (boot_flow_state.cpp)
//   5. the policy: handover, cold boot or halt        (boot_entry.h)
//   6. kernel header, command line, placement, files  (boot_flow_place.cpp)
//   7. boot data for the architecture's protocol      (x86_handover.cpp)
//   8. KhoBootStatus and the Boot Loader Interface variables written
//      (boot_flow_bli.cpp), descriptor consumed; the caller exits boot
//      services and jumps.
//
// No dead ends. An error that stops a boot (HaltReason) halts the machine
// only when a state is protected and the entry's policy says halt
// (kho-on-error halt, kho required): a halt keeps that state in RAM for
// inspection. Otherwise (nothing found, nothing protected, a cold-boot
// policy, or no entry to ask) the verdict is Exit: the caller returns an
// error to the firmware's boot manager, which goes on to its next boot
// option, so a lab machine never sits dead on a typo. khoboot does not
// fall back to another entry of its own: an entry that cannot boot says
// nothing about which other entry the user would accept, while the boot
// order is the user's own statement of what comes next.
#pragma once
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "../abi/efi_memory.h"
#include "../abi/handover_descriptor.h"
#include "../abi/x86_boot.h"
#include "boot_attempt.h"
#include "boot_entry.h"
#include "boot_params_builder.h"
#include "boot_protocol.h"
#include "entry_list.h"
#include "bzimage.h"
#include "cmdline.h"
#include "firmware.h"
#include "handover_descriptor.h"
#include "kernel_placement.h"
#include "kho_fdt_reader.h"
#include "loader_limits.h"
#include "measured_boot.h"
#include "secure_boot.h"
#include "memory_plan.h"
#include "protected_set.h"
#include "ram_probe.h"
#include "range_set.h"

namespace kho {

// Facts about the machine gathered before the flow starts.
struct BootFacts {
    // The firmware's now() when the loader was entered: the first phase
    // starts there.
    uint64_t entry_time = 0;
    // The image's LoadOptions as ASCII, or null when they were not text.
    const char* load_options = nullptr;
    uint64_t acpi_rsdp = 0;
    uint64_t system_table = 0;
    // arm64: the firmware's device tree (EFI configuration table
    // DEVICE_TREE_GUID), 0 when it has none.
    uint64_t dtb = 0;
    bool has_framebuffer = false;
    Framebuffer framebuffer{};
    // For the Boot Loader Interface (boot_loader_interface.h):
    const char* loader_version = "dev";
    uint64_t init_us = 0;                        // CPU reset to loader entry, µs
    uint32_t uefi_revision = 0;                  // the system table header's
    const uint16_t* firmware_vendor = nullptr;   // UTF-16, NUL-terminated
    uint32_t firmware_revision = 0;
    // Device paths (UEFI 2.10 section 10.3), walked by the core: the ESP's
    // device (its partition GUID) and the image's file path.
    const uint8_t* device_path = nullptr;
    const uint8_t* image_path = nullptr;
};

// Every buffer the flow works in, sized for the firmware path: before the
// state is protected nothing may be allocated, so this storage comes with
// the loader's image (a static object in efi/main.cpp). Plain arrays only:
// constant-initialized, since gnu-efi's crt0 runs no constructors.
struct BootContext {
    static constexpr size_t kMapBytes = limits::kMapBytes;
    static constexpr size_t kMapDescriptors = kMapBytes / sizeof(abi::efi::MemoryDescriptor);
    // The planner's storage grows with the firmware map, a refused state's
    // coarse extent with it, plus the conflicting ranges it names.
    static constexpr size_t kProtectRanges = kMapDescriptors + limits::kOutsideRanges + 64;
    static constexpr size_t kMaxScratch = abi::descriptor::kMaxScratch;
    static constexpr size_t kConflicts = 8;

    alignas(8) uint8_t map_buf[kMapBytes];
    Range protect[kProtectRanges];
    Range allocate[kMapDescriptors + 2 * kMaxScratch];
    Range free_regions[kMapDescriptors], hulls[kMapDescriptors], outside[limits::kOutsideRanges];
    Range scratch_free[512];
    Range overlaps[512];
    Range scratch[kMaxScratch];
    Range work[2 * (kMapDescriptors + kMaxScratch)];
    Range free[kMapDescriptors], fw_ram[kMapDescriptors];
    // Free RAM minus a refused state's ranges (a cold boot keeps off
    // them), which splits free RAM once per preserved range.
    Range data_space[kMapDescriptors + kProtectRanges];
    Conflict conflicts[kConflicts];
    uint64_t visited[limits::kVisitedPages];
    KhoState state;
    HandoverDescriptor desc;
    alignas(8) uint8_t desc_raw[abi::descriptor::kMaxSize];
    // The KhoManifest variable. OVMF's largest variable is 33 KiB
    // (PcdMaxVariableSize 0x8400 in its 4 MiB build); the export tool keeps
    // its manifests under 16 KiB.
    alignas(8) uint8_t manifest_var[64 * 1024];
    char text[64 * 1024];
    BootEntry entry;
    BootEntry scan;  // each entry file in turn, read for the menu (entry_list.h)
    LoaderConf conf;
    LoadOptions load_options;
    char cmdline[8192];
    uint8_t kernel_prefix[kBzImagePrefix];
    abi::x86::E820Entry e820[kMapDescriptors];
    alignas(8) uint8_t memblock_fdt[64 * 1024];
    ReserveMemRegion regions[8];
    char status_text[abi::boot_record::kStatusMaxBytes];
    // The RAM-retention probe (boot_flow_probe.cpp): its variables' bytes,
    // the ranges an arm fills, the result a check finds or the last one.
    alignas(8) uint8_t probe_var[abi::probe::kMaxArmedBytes > abi::probe::kMaxResultBytes
                                     ? abi::probe::kMaxArmedBytes
                                     : abi::probe::kMaxResultBytes];
    Range probe_filled[abi::probe::kMaxFilledRanges];
    ProbeResult probe_result;
};

// Storage whose size follows the firmware's memory map: the map itself,
// the range sets placement derives from it, and the e820 table built from
// the final map. The context covers ordinary maps; a fragmented state's
// protection splits free memory, and then (the state being protected) the
// buffers come from the pool, sized from the firmware's own count.
struct MapStorage {
    uint8_t* map = nullptr;
    size_t map_bytes = 0;
    Range* fw_ram = nullptr;
    Range* free_mem = nullptr;
    size_t ranges = 0;  // capacity of each of the two sets above
    Range* data_space = nullptr;
    size_t data_ranges = 0;
    Range* work = nullptr;
    size_t work_ranges = 0;
    abi::x86::E820Entry* e820 = nullptr;
    size_t e820_capacity = 0;
};

// The kernel, initrd and boot data as placed and allocated.
struct LoadedImages {
    BzImage image{};
    uint64_t kernel_file_size = 0;
    uint64_t kernel = 0;
    uint64_t initrd = 0, initrd_size = 0, initrd_alloc = 0;
    uint64_t boot_data = 0;
    BootDataLayout layout{};
    size_t scratch_count = 0;
    MapStorage storage{};
};

// What the caller needs to start the kernel: x86-64 exits boot services
// and jumps with boot_params; arm64 installs the DTB and starts the EFI
// stub.
struct Handoff {
    const LoadedImages* images = nullptr;
    abi::x86::BootParams* boot_params = nullptr;  // x86-64
    SetupDataChain* chain = nullptr;              // x86-64
    uint64_t entry_data = 0;  // boot_params (x86-64) or the DTB (arm64), physical
    // arm64: the scratch regions of a handover (none on a cold boot), to
    // fence the rest of free RAM before the stub runs (arm64_handover.h).
    const abi::KhoScratch* scratch = nullptr;
    size_t scratch_count = 0;
    uint64_t dtb_size = 0;            // arm64
    const char* cmdline = nullptr;    // arm64: LoadOptions
    uint64_t phase_start = 0;
};

// Why a boot halted: the step that could not go on ("halt reason=<name>").
// The first error line of the boot (its kind from status.h) says what
// went wrong there.
enum class HaltReason : uint8_t {
    KhoUnusable,         // a state was found, refused, and kho-on-error says halt
    KhoRequiredMissing,  // kho required and no state
    KhoCmdline,          // the state's command-line edits do not fit (policy halt)
    KhoNoSpace,          // no room in scratch (policy halt)
    Config,              // no usable boot entry
    Image,               // the kernel file is missing or not a bzImage
    Initrd,              // an initrd is missing
    Cmdline,             // the command line does not fit the kernel
    Placement,           // no room for kernel, initrd and boot data
    Load,                // reading the files failed
    BootParams,          // boot_params could not be written
    ImageUnverified,     // Secure Boot: the kernel failed verification
    ExitBootServices,    // the final memory map or ExitBootServices failed
};
const char* halt_reason_name(HaltReason r);

struct BootVerdict {
    BootOutcome outcome = BootOutcome::Halt;
    // outcome Halt or Exit: halt_reason_name() of the step that stopped
    const char* halt_reason = nullptr;
    Handoff handoff{};                  // otherwise
};

class BootFlow {
public:
    BootFlow(Firmware& fw, BootContext& ctx, const BootFacts& facts, const BootProtocol& protocol);

    // Steps 1-8. On Handover or ColdBoot the boot data is written and the
    // status recorded; the caller exits boot services and jumps. The
    // verdict's handoff points into this object: valid while it lives.
    BootVerdict run();

    // After run(): ExitBootServices() could not be reached; records the
    // error and the halt or exit (status written, descriptor consumed).
    BootVerdict fail(const Status& s, HaltReason reason);

    // One protocol line, formatted (the core's format.h subset).
    void log(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
    void log_serial(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
    uint64_t mark_phase(const char* name, uint64_t start);

private:
    struct KhoProgress {
        bool found = false;      // a descriptor or static keys named a state
        bool from_variable = false;
        bool usable = false;     // validated, protected and (kho-verify) intact
        bool protected_ = false; // its pages were allocated (protected), usable or not
        bool multikernel = false;
        bool manifest_variable = false;  // KhoManifest exists (consumed with the descriptor)
        // The manifest kho-verify checks: in RAM (descriptor kFlagManifest,
        // protected with the state) or the KhoManifest variable's bytes.
        bool manifest_in_ram = false;
        const void* manifest = nullptr;
        size_t manifest_len = 0;
        // KhoManifest exists but could not be read: a state whose manifest
        // cannot be checked fails any level but off.
        bool manifest_unreadable = false;
        uint64_t metadata_bytes = 0;  // bounds the manifest (ProtectStats)
    };
    class WarningLog : public ConfigWarnings {
    public:
        explicit WarningLog(BootFlow& flow) : flow_(flow) {}
        void warn(const char* file, unsigned line, const char* message) override;

    private:
        BootFlow& flow_;
    };

    // boot_flow.cpp: the outline, records, policy
    void vlog(bool serial_only, const char* fmt, va_list ap);
    void log_error(const Status& s);
    void arm_watchdog(uint64_t seconds, const char* step);
    void finish_boot(BootOutcome outcome);
    BootVerdict end_without_kernel(BootOutcome outcome, HaltReason reason);
    BootVerdict halt(HaltReason reason);
    BootVerdict exit_to_firmware(HaltReason reason);
    BootVerdict stop(HaltReason reason);
    bool begin_attempt(const void* descriptor, size_t len, bool descriptor_found);
    void read_descriptor();
    void read_manifest_variable();
    void static_state();
    BootVerdict boot();

    // boot_flow_state.cpp: protect and verify
    Status open_state(const HandoverDescriptor& d);
    ProtectOptions protect_options(const HandoverDescriptor& d) const;
    PageSet fresh_visited();
    Status plan_protection(const MemoryMapSnapshot& map, const ProtectOptions& options,
                           MemoryPlan& plan, uint64_t* ranges_seen);
    Status allocate_plan(const RangeSet& allocate);
    Status collect_exact(const ProtectOptions& options, uint64_t ranges_seen, ProtectStats* stats);
    Status protect_state(const HandoverDescriptor& d);
    void try_protect(const HandoverDescriptor& d);
    Status manifest_readable() const;
    void verify();

    // boot_flow_probe.cpp: the RAM-retention probe
    void probe_check();
    void read_probe_result();
    void probe_arm_if_asked();
    Status probe_allocate(RangeSet& filled);
    Status probe_fill_and_record(RangeSet& filled, uint64_t salt);
    void probe_release(const RangeSet& filled);

    // boot_flow_bli.cpp
    void read_os_choice(const char* const* ids, size_t count);
    void write_bli_string(const char* name, const char* value, size_t* failed);
    void write_bli_bytes(const char* name, const void* data, size_t len, size_t* failed);
    void export_loader_interface();

    // boot_flow_config.cpp
    size_t menu(size_t def);
    Status read_config();
    void read_saved_entry();
    void save_entry();

    // boot_flow_entries.cpp: the menu's entries, type #1 and #2
    Status collect_entries();
    Status add_type1(const char* name, size_t len);
    Status add_uki(const char* name, size_t len);
    Status add_entry(const MenuEntry& e);
    Status open_entry(size_t index);
    Status resolve_uki();

    // boot_flow_place.cpp
    Status map_storage(bool may_use_pool, MapStorage* out);
    Status read_kernel_header(BzImage* image, uint64_t* file_size);
    Status build_cmdline(bool handover, const BzImage& image, CommandLine& cl);
    Status placement_spaces(bool handover, bool avoid_state, bool hull_gaps, const RangeSet& free_mem,
                            MapStorage& st, RangeSet& data_space, const RangeSet** image_space);
    Status choose_placement(bool handover, bool avoid_state, const MemoryMapSnapshot& map,
                            const BzImage& image, uint64_t initrd_total, size_t cmdline_len,
                            LoadedImages* out, Placement* p);
    bool allocate_unless_ours(const Range& r, uint32_t type);
    Status allocate_placement(const Placement& p, uint64_t kernel_size, uint64_t initrd_size,
                              uint64_t boot_data_size);
    Status place(bool handover, const BzImage& image, uint64_t initrd_total, size_t cmdline_len,
                 LoadedImages* out, bool avoid_state = false);
    Status place_cold(const BzImage& image, uint64_t initrd_total, size_t cmdline_len,
                      LoadedImages* out);
    Status initrd_sizes(LoadedImages& l, uint64_t* total);
    bool kho_failed(const Status& s);
    bool prepare(bool& handover, CommandLine& cl, HaltReason* why);
    Status load_files();
    Status read_whole_kernel(const uint8_t** out);
    void secure_boot_facts();
    void measure(MeasuredItem item, const void* data, uint64_t len);
    void measure_boot(bool handover, const uint8_t* block);
    void log_placement(uint64_t file_size, bool handover);

    Firmware& fw_;
    BootContext& c_;
    const BootFacts& facts_;
    const BootProtocol& protocol_;
    WarningLog warnings_;
    RangeSet protect_, allocate_, scratch_free_, overlaps_, scratch_;
    KhoProgress kho_;
    BootStatus status_{};
    char first_kind_[24] = {};
    char first_message_[Status::kMessageSize] = {};
    char manifest_error_[Status::kMessageSize] = {};
    bool attempt_recorded_ = false;
    bool entry_ready_ = false;      // c_.entry parsed: its policy can be asked
    TextArena arena_{fw_};
    MenuEntry* entries_ = nullptr;  // the menu, in BLS order (entry_list.h)
    const char** ids_ = nullptr;    // their ids, in the same order
    size_t entry_count_ = 0;        // entries (LoaderEntries)
    size_t entry_capacity_ = 0;
    bool saved_default_ = false;    // `default @saved` in force: save this boot's entry
    char saved_id_[BootEntry::kIdSize] = {};  // LoaderEntryLastBooted as read
    int default_index_ = -1;        // the computed default (LoaderEntryDefault)
    bool os_default_set_ = false;   // the OS set LoaderEntryDefault
    bool one_shot_ = false;         // LoaderEntryOneShot chose the entry: no menu
    char one_shot_id_[BootEntry::kIdSize] = {};
    char os_default_id_[BootEntry::kIdSize] = {};
    bool probe_result_ = false;     // c_.probe_result holds a result (clobbered ranges)
    bool probe_requested_ = false;  // KhoProbeRequest exists
    size_t conflicts_shown_ = 0;  // entries of c_.conflicts the last plan filled
    uint64_t phase_ = 0;
    LoadedImages images_{};
    CommandLine cmdline_;
    SetupDataChain chain_{nullptr};
    SecureBootMode secure_boot_ = SecureBootMode::Unset;
    KernelVerifier verifier_ = KernelVerifier::None;
    bool tpm_ = false;
    size_t desc_len_ = 0;  // bytes of the descriptor variable (measured)
};

}  // namespace kho
