#include "efivarfs.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "abi/khoboot_vendor.h"
#include "linux_sources.h"

namespace kho::tools::exporting {
namespace {

constexpr uint32_t kEfivarfsMagic = 0xde5e81e4;  // include/uapi/linux/magic.h

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

// efivarfs marks variables immutable unless their GUID is on its list of
// removable ones (fs/efivarfs/vars.c efivar_variable_is_removable()); an
// unknown vendor GUID is removable, but clear the flag anyway in case a
// newer kernel decides otherwise.
void clear_immutable(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    int flags = 0;
    if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && (flags & FS_IMMUTABLE_FL)) {
        flags &= ~FS_IMMUTABLE_FL;
        (void)ioctl(fd, FS_IOC_SETFLAGS, &flags);
    }
    close(fd);
}

}  // namespace

std::string variable_path(const std::string& dir, const char* name) {
    return dir + "/" + name + "-" + abi::kVendorGuidText;
}

std::string check_efivarfs(const std::string& dir) {
    struct statfs sfs;
    if (statfs(dir.c_str(), &sfs) != 0)
        return errno_text(dir) + " (efivarfs not mounted, or not booted through UEFI)";
    // Only the real location must be efivarfs; a directory given with
    // --efivars (host tests) may live on any file system.
    if (dir == kEfivarfsDir && uint32_t(sfs.f_type) != kEfivarfsMagic)
        return dir + " is not efivarfs (mount -t efivarfs efivarfs " + dir + ")";
    return "";
}

std::string remove_variable(const std::string& path) {
    if (access(path.c_str(), F_OK) != 0) return "";
    clear_immutable(path);
    if (unlink(path.c_str()) != 0 && errno != ENOENT) return errno_text("unlink " + path);
    return "";
}

// One write() of attributes + data: efivarfs turns each write into one
// SetVariable() call (fs/efivarfs/file.c efivarfs_file_write()).
std::string write_variable(const std::string& path, const std::vector<uint8_t>& data) {
    std::vector<uint8_t> buf(4 + data.size());
    std::memcpy(buf.data(), &kVariableAttributes, 4);
    if (!data.empty()) std::memcpy(buf.data() + 4, data.data(), data.size());
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return errno_text("create " + path);
    ssize_t n = ::write(fd, buf.data(), buf.size());
    int e = errno;
    close(fd);
    if (n != ssize_t(buf.size())) {
        errno = n < 0 ? e : EIO;
        return errno_text("write " + path);
    }
    // Read back what the firmware stored.
    std::string back;
    if (!read_small_file(path, &back, buf.size() + 4096)) return errno_text("read back " + path);
    if (back.size() != buf.size() || std::memcmp(back.data(), buf.data(), buf.size()) != 0)
        return "read back " + path + ": " + std::to_string(back.size()) + " bytes differ from the " +
               std::to_string(buf.size()) + " written";
    return "";
}

}  // namespace kho::tools::exporting
