#include "kho_map_reader.h"

#include <stdarg.h>

#include "../loader/format.h"
#include "paging.h"

namespace tk {

void map_error(MapError* err, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    kho::format_v(err->text, sizeof(err->text), fmt, ap);
    va_end(ap);
}

bool MapReader::pointer_ok(uint64_t p, uint64_t align, uint64_t len, const char* what,
                           MapError* err) {
    if (!p || p % align) {
        map_error(err, "%s pointer 0x%lx not %lu-aligned", what, (unsigned long)p,
                  (unsigned long)align);
        return false;
    }
    if (p + len > kIdentityLimit || !bi_.is_ram(p, p + len)) {
        map_error(err, "%s 0x%lx is not e820 RAM", what, (unsigned long)p);
        return false;
    }
    switch (visited_.insert(p)) {
    case PageHashSet::Result::Added:
        return true;
    case PageHashSet::Result::Present:
        map_error(err, "%s 0x%lx reached twice (cycle or shared node)", what, (unsigned long)p);
        return false;
    case PageHashSet::Result::Full:
        map_error(err, "more than %lu map objects", (unsigned long)(PageHashSet::kSlots / 2));
        return false;
    }
    return false;
}

}  // namespace tk
