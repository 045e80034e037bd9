#include "reboot_plan.h"

#include <algorithm>

namespace kho::tools::reboot {
namespace {

Verdict fail(const std::string& kind, const std::string& message) { return Verdict{false, kind, message}; }

bool carries_luo(const Facts& f) { return f.luo_sessions > 0 || f.want_luo; }

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const std::string& x : v) s += (s.empty() ? "" : ",") + x;
    return s.empty() ? "none" : s;
}

}  // namespace

std::vector<std::string> abi_prefixes(const Facts& f) {
    std::vector<std::string> p{"kho-v"};
    if (carries_luo(f)) p.insert(p.end(), {"luo-v", "memfd-v"});
    return p;
}

Verdict check(const Facts& f) {
    if (!f.kho_on) return fail("kho-off", "KHO is off in this kernel: boot it with kho=on");
    if (carries_luo(f) && !f.luo_on)
        return fail("luo-off", std::to_string(f.luo_sessions) +
                                   " LUO session(s) to carry but LUO is off (/dev/liveupdate missing): boot with liveupdate=on");
    if (!f.entry) return fail("no-entry", f.entry_error);
    if (!f.handoff_error.empty()) return fail("no-handoff", f.handoff_error);
    if (!f.kernel_error.empty()) return fail("bad-kernel", f.kernel_error);
    if (!f.running_known)
        return fail("abi-unknown", "cannot tell which KHO ABI this kernel writes: " + f.running_error);
    if (std::none_of(f.running_abi.begin(), f.running_abi.end(), [](const std::string& v) { return v.rfind("kho-v", 0) == 0; }))
        return fail("abi-unknown", f.running_source + " carries no kho-vN compatible: not a KHO kernel?");
    for (const std::string& prefix : abi_prefixes(f)) {
        for (const std::string& v : f.running_abi) {
            if (v.rfind(prefix, 0) != 0) continue;
            if (std::find(f.next_abi.begin(), f.next_abi.end(), v) == f.next_abi.end())
                return fail("abi-mismatch", f.kernel_path + " does not read " + v + " (this kernel writes it; the next kernel carries " +
                                                join(f.next_abi) + "): it would drop the preserved state");
        }
    }
    return Verdict{};
}

}  // namespace kho::tools::reboot
