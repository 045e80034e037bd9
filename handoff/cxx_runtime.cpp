// The little C++ runtime the core needs here: its sinks have virtual
// destructors, whose deleting variants reference operator delete. Nothing
// is ever allocated on a heap (there is none), so it is never called.
#include <stddef.h>

void operator delete(void*) noexcept { __builtin_trap(); }
void operator delete(void*, size_t) noexcept { __builtin_trap(); }
