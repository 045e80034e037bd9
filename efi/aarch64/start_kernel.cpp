// arm64: the kernel is started through its EFI stub (LoadImage/StartImage),
// which exits boot services itself.
#include "../start_kernel.h"

#include "../log.h"

namespace khoefi {

void arch_facts(kho::BootFacts*) {}

EFI_STATUS start_kernel(kho::BootFlow& flow, UefiFirmware&, const kho::Handoff&) {
    kho::Status s = kho::Status::error(kho::Err::BadImage, "arm64: starting the kernel is not built yet");
    if (flow.fail(s, kho::HaltReason::BootParams).outcome == kho::BootOutcome::Halt) halt_forever();
    return EFI_LOAD_ERROR;
}

}  // namespace khoefi
