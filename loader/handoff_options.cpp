#include "handoff_options.h"

#include "cmdline.h"

namespace handoff {

kho::Status parse_options(const char* cmdline, Options* out) {
    *out = Options{};
    char buf[4096];
    kho::CommandLine line(buf, sizeof(buf));
    KHO_TRY(line.set(cmdline));
    char v[16];
    if (!line.value_of("khoboot.handoff.manifest", v, sizeof(v))) return kho::Status::ok();
    if (!__builtin_strcmp(v, "full")) out->manifest = kho::ManifestLevel::Full;
    else if (!__builtin_strcmp(v, "metadata")) out->manifest = kho::ManifestLevel::Metadata;
    else if (!__builtin_strcmp(v, "none")) out->manifest = kho::ManifestLevel::None;
    else
        return kho::Status::error(kho::Err::BadEntry, "khoboot.handoff.manifest=%s: want full, metadata or none", v);
    return kho::Status::ok();
}

}  // namespace handoff
