// esp_files.h says why.
#include "esp_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kho::tools::install {
namespace {

std::string fail(const std::string& what, const std::string& path) {
    return what + " " + path + ": " + std::strerror(errno);
}

}  // namespace

bool exists(const std::string& path) {
    struct stat st;
    return lstat(path.c_str(), &st) == 0;
}

bool is_dir(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string read_file(const std::string& path, std::string* out) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail("cannot open", path);
    out->clear();
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            std::string e = fail("cannot read", path);
            close(fd);
            return e;
        }
        if (n == 0) break;
        out->append(buf, size_t(n));
    }
    close(fd);
    return "";
}

std::string write_file_atomic(const std::string& path, const std::string& data) {
    const std::string tmp = path + ".new";
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return fail("cannot create", tmp);
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            std::string e = fail("cannot write", tmp);
            close(fd), unlink(tmp.c_str());
            return e;
        }
        done += size_t(n);
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        std::string e = fail("cannot sync", tmp);
        unlink(tmp.c_str());
        return e;
    }
    if (rename(tmp.c_str(), path.c_str()) != 0) {
        std::string e = fail("cannot rename to", path);
        unlink(tmp.c_str());
        return e;
    }
    return "";
}

std::string make_dir(const std::string& path) {
    if (mkdir(path.c_str(), 0755) == 0 || (errno == EEXIST && is_dir(path))) return "";
    return fail("cannot create directory", path);
}

std::string remove_dir_if_empty(const std::string& path) {
    if (rmdir(path.c_str()) == 0 || errno == ENOENT || errno == ENOTEMPTY || errno == EEXIST) return "";
    return fail("cannot remove directory", path);
}

std::string remove_file(const std::string& path) {
    if (unlink(path.c_str()) == 0 || errno == ENOENT) return "";
    return fail("cannot remove", path);
}

}  // namespace kho::tools::install
