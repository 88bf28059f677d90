#include "linux/rootpath.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <vector>

#include "base/error.hpp"
#include "linux/syscalls.hpp"

namespace skiff::rootpath {
namespace {

constexpr uint64_t kResolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;

std::vector<std::string> components(const std::string& path) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < path.size()) {
        size_t j = path.find('/', i);
        if (j == std::string::npos) j = path.size();
        std::string c = path.substr(i, j - i);
        if (c == "..") {
            if (!out.empty()) out.pop_back();
        } else if (!c.empty() && c != ".") {
            out.push_back(std::move(c));
        }
        i = j + 1;
    }
    return out;
}

std::string join(const std::vector<std::string>& parts, size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s += "/" + parts[i];
    return s.empty() ? "/" : s;
}

}  // namespace

std::string clean(const std::string& path) { return join(components(path), components(path).size()); }

std::pair<std::string, std::string> split_parent(const std::string& path) {
    auto parts = components(path);
    if (parts.empty()) return {"/", ""};
    std::string last = parts.back();
    return {join(parts, parts.size() - 1), last};
}

std::string fd_name(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

int mount_at(int fd, const char* source, const char* fstype, unsigned long flags, const void* data) {
    if (::fchdir(fd) == 0) return ::mount(source, ".", fstype, flags, data);
    if (errno != ENOTDIR) return -1;
    return ::mount(source, fd_name(fd).c_str(), fstype, flags, data);
}

Fd open(int root_fd, const std::string& path, int flags, mode_t mode) {
    std::string rel = clean(path);
    for (;;) {
        int fd = sys::openat2(root_fd, rel.c_str(), uint64_t(flags | O_CLOEXEC), mode, kResolve);
        if (fd >= 0) return Fd(fd);
        if (errno == EAGAIN || errno == EINTR) continue;  // a rename raced the lookup: retry
        if (errno == ENOENT || errno == ENOTDIR) return Fd();
        throw_errno("open " + rel + " inside the root");
    }
}

Fd mkdir_all(int root_fd, const std::string& path, mode_t mode) {
    // Mostly the directory is there already: one lookup instead of one per component.
    if (Fd whole = open(root_fd, path, O_PATH | O_DIRECTORY)) return whole;
    auto parts = components(path);
    // Start below the deepest ancestor that exists (usually the parent).
    Fd dir;
    size_t start = parts.size();
    while (start > 0 && !dir) {
        --start;
        if (start > 0) dir = open(root_fd, join(parts, start), O_PATH | O_DIRECTORY);
    }
    if (!dir) dir = open(root_fd, "/", O_PATH | O_DIRECTORY);
    if (!dir) throw_errno("open the root");
    int links = 0;
    for (size_t i = start; i < parts.size(); ++i) {
        std::string prefix = join(parts, i + 1);
        // Create the one missing component in the directory resolved so far; mkdirat
        // never follows a symlink in its last component, so it cannot land elsewhere.
        if (::mkdirat(dir.get(), parts[i].c_str(), mode) < 0) {
            if (errno != EEXIST) throw_errno("mkdir " + prefix + " inside the root");
            struct stat st;
            if (::fstatat(dir.get(), parts[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
                Fd through = open(root_fd, prefix, O_PATH | O_DIRECTORY);
                if (through) {
                    dir = std::move(through);
                    continue;
                }
                // A dangling symlink: create its target, read as a path inside the root (what
                // runc's securejoin does), and go on from there.
                if (++links > 40) throw Error("mkdir " + path + " inside the root: too many symlinks", ELOOP);
                char target[4096];
                ssize_t n = ::readlinkat(dir.get(), parts[i].c_str(), target, sizeof target - 1);
                if (n < 0) throw_errno("readlink " + prefix + " inside the root");
                target[n] = 0;
                std::string rest = target[0] == '/' ? std::string(target) : join(parts, i) + "/" + target;
                for (size_t k = i + 1; k < parts.size(); ++k) rest += "/" + parts[k];
                parts = components(rest);
                dir = open(root_fd, "/", O_PATH | O_DIRECTORY);
                i = size_t(-1);
                continue;
            }
        }
        // One component below a directory already resolved inside the root: O_NOFOLLOW with
        // O_DIRECTORY refuses a symlink swapped in meanwhile, so no walk from the root again.
        Fd next(::openat(dir.get(), parts[i].c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!next) throw_errno("open " + prefix + " inside the root: not a directory", ENOTDIR);
        dir = std::move(next);
    }
    return dir;
}

Fd ensure_file(int root_fd, const std::string& path, mode_t mode) {
    Fd existing = open(root_fd, path, O_PATH);
    if (existing) return existing;
    std::string want = clean(path);
    for (int links = 0;; ++links) {
        auto [parent, name] = split_parent(want);
        if (name.empty()) throw Error("cannot create a file at the root", EINVAL);
        Fd dir = mkdir_all(root_fd, parent);
        int fd = ::openat(dir.get(), name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC,
                          mode);
        if (fd >= 0) {
            ::close(fd);
            break;
        }
        if (errno != EEXIST) throw_errno("create " + want + " inside the root");
        // Something the lookup above did not reach is there: a dangling symlink (Ubuntu's
        // /etc/resolv.conf -> ../run/systemd/resolve/stub-resolv.conf). Its target, read as a
        // path inside the root, is where the file goes, as runc and crun make it.
        char target[4096];
        ssize_t n = ::readlinkat(dir.get(), name.c_str(), target, sizeof target - 1);
        if (n < 0) {
            if (errno == EINVAL) break;  // not a link (made meanwhile): open it below
            throw_errno("readlink " + want + " inside the root");
        }
        if (links >= 40) throw Error("create " + clean(path) + " inside the root: too many symlinks", ELOOP);
        target[n] = 0;
        want = clean(target[0] == '/' ? std::string(target) : parent + "/" + target);
    }
    Fd out = open(root_fd, path, O_PATH);
    if (!out) throw_errno("open " + clean(path) + " inside the root");
    return out;
}

}  // namespace skiff::rootpath
