#pragma once

namespace handoff {

// Applies .rela.dyn (R_X86_64_RELATIVE only); false on any other type.
bool relocate_self();

}  // namespace handoff
