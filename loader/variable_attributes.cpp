#include "variable_attributes.h"

namespace kho {

Status check_state_variable_attributes(const char* name, uint32_t attributes, Err kind) {
    if (attributes == kStateVariableAttributes) return Status::ok();
    return Status::error(kind, "%s has attributes 0x%x, khoboot requires 0x%x (non-volatile, boot and runtime "
                         "access, nothing else)", name, attributes, kStateVariableAttributes);
}

}  // namespace kho
