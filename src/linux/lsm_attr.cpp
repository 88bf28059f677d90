#include "linux/lsm_attr.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error.hpp"

namespace skiff::lsm {
namespace {

bool exists(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
}

// One write of the whole value: the kernel takes an attribute as one command, never in parts.
// Returns 0, or the write's errno (the LSM's answer); a file that cannot be opened throws.
int write_attr(int attr_dir, const char* name, const std::string& value) {
    Fd f(::openat(attr_dir, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!f) throw_errno(std::string("open attr/") + name);
    ssize_t n = ::write(f.get(), value.data(), value.size());
    if (n < 0) return errno;
    return size_t(n) == value.size() ? 0 : EIO;
}

}  // namespace

bool apparmor_enabled(const std::string& root) {
    if (!exists(root + "/sys/kernel/security/apparmor")) return false;
    Fd f(::open((root + "/sys/module/apparmor/parameters/enabled").c_str(), O_RDONLY | O_CLOEXEC));
    char c = 0;
    return f && ::read(f.get(), &c, 1) == 1 && c == 'Y';
}

bool selinux_enabled(const std::string& root) {
    return exists(root + "/sys/fs/selinux/enforce");
}

Fd open_thread_attr_dir(const std::string& proc) {
    std::string path = proc + "/thread-self/attr";
    Fd dir(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir) throw_errno("open " + path);
    struct statfs fs;
    if (::fstatfs(dir.get(), &fs) < 0) throw_errno("statfs " + path);
    if (fs.f_type != PROC_SUPER_MAGIC) throw Error(path + " is not on procfs: refused", EXDEV);
    return dir;
}

std::string set_apparmor_exec(int attr_dir, const std::string& profile) {
    // Kernels since 5.1 give each LSM its own directory; before, attr/exec was AppArmor's.
    struct stat st;
    const char* name = ::fstatat(attr_dir, "apparmor/exec", &st, 0) == 0 ? "apparmor/exec" : "exec";
    std::string file = std::string("attr/") + name;
    int err = write_attr(attr_dir, name, "exec " + profile);
    // The kernel answers ENOENT for a profile it does not have.
    if (err == ENOENT)
        throw Error("AppArmor profile \"" + profile + "\" is not loaded (write " + file + ": " +
                        std::strerror(err) + ")", ENOENT);
    if (err) throw_errno("write " + file, err);
    return file;
}

std::string set_selinux_exec(int attr_dir, const std::string& label) {
    int err = write_attr(attr_dir, "exec", label);
    if (err) throw_errno("write attr/exec", err);
    return "attr/exec";
}

std::string with_context_option(const std::string& data, const std::string& label) {
    if (label.empty()) return data;
    std::string option = "context=\"" + label + "\"";
    return data.empty() ? option : data + "," + option;
}

}  // namespace skiff::lsm
