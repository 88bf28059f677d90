#include "cgroups/fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "base/error.hpp"
#include "base/text.hpp"

namespace skiff::cgroups::fs {

std::string join(const std::string& dir, const std::string& name) {
    if (dir.empty()) return name;
    if (name.empty()) return dir;
    if (dir.back() == '/') return dir + (name.front() == '/' ? name.substr(1) : name);
    return dir + (name.front() == '/' ? "" : "/") + name;
}

namespace {

struct Anchored {
    std::string dir;
    int fd;
};
std::vector<Anchored>& anchors() {
    static std::vector<Anchored> list;
    return list;
}

bool below(const std::string& path, const std::string& dir) {
    return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
           (path[dir.size()] == '/' || dir == "/");
}

}  // namespace

At at(const std::string& path) {
    const Anchored* best = nullptr;
    for (const auto& a : anchors())
        if ((a.dir == path || below(path, a.dir)) && (!best || a.dir.size() > best->dir.size())) best = &a;
    if (!best) return {AT_FDCWD, path, ""};
    if (best->dir == path) return {best->fd, ".", best->dir};
    size_t from = best->dir.size() + (best->dir == "/" ? 0 : 1);
    return {best->fd, path.substr(from), best->dir};
}

void anchor(const std::string& dir) {
    if (anchor_fd(dir) >= 0) return;
    At a = at(dir);
    int fd = ::openat(a.fd, a.rel.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) anchors().push_back({dir, fd});
}

void forget(const std::string& dir) {
    auto& list = anchors();
    for (auto it = list.begin(); it != list.end();) {
        if (it->dir == dir || below(it->dir, dir)) {
            ::close(it->fd);
            it = list.erase(it);
        } else {
            ++it;
        }
    }
}

int anchor_fd(const std::string& dir) {
    for (const auto& a : anchors())
        if (a.dir == dir) return a.fd;
    return -1;
}

int open_at(const std::string& path, int flags) {
    At a = at(path);
    return ::openat(a.fd, a.rel.c_str(), flags | O_CLOEXEC);
}

int rmdir_at(const std::string& path) {
    At a = at(path);
    if (a.rel == ".") {
        // rmdir of an anchor itself: through its parent's anchor, or by path
        forget(path);
        a = at(path);
        if (a.rel == ".") return ::rmdir(path.c_str());
    }
    return ::unlinkat(a.fd, a.rel.c_str(), AT_REMOVEDIR);
}

bool exists(const std::string& path) {
    struct stat st;
    At a = at(path);
    return ::fstatat(a.fd, a.rel.c_str(), &st, 0) == 0;
}

std::optional<std::string> read_opt(const std::string& path) {
    int fd = open_at(path, O_RDONLY);
    if (fd < 0) {
        if (errno == ENOENT) return std::nullopt;
        throw_errno("open " + path);
    }
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            ::close(fd);
            throw_errno("read " + path, e);
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
}

std::string read(const std::string& path) {
    auto text = read_opt(path);
    if (!text) throw_errno("open " + path, ENOENT);
    return *text;
}

static std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t\n");
    if (b == std::string::npos) return "";
    size_t e = s.find_last_not_of(" \t\n");
    return s.substr(b, e - b + 1);
}

std::string read_line(const std::string& path) {
    std::string text = read(path);
    return trim(text.substr(0, text.find('\n')));
}

int try_write(const std::string& path, const std::string& value) {
    // O_TRUNC matters only for plain files (test trees); cgroupfs ignores it.
    int fd = open_at(path, O_WRONLY | O_TRUNC);
    if (fd < 0) return errno;
    ssize_t n;
    do {
        n = ::write(fd, value.data(), value.size());
    } while (n < 0 && errno == EINTR);
    int e = n < 0 ? errno : 0;
    ::close(fd);
    return e;
}

void write(const std::string& path, const std::string& value) {
    if (int e = try_write(path, value)) throw_errno("write " + value + " to " + path, e);
}

std::map<std::string, uint64_t> read_flat_keyed(const std::string& path) {
    std::map<std::string, uint64_t> out;
    auto text = read_opt(path);
    if (!text) return out;
    auto words = skiff::text::fields(*text);
    for (size_t i = 0; i + 1 < words.size(); i += 2) {
        try {
            out[std::string(words[i])] = parse_u64(std::string(words[i + 1]));
        } catch (const Error&) {
            // Non-numeric entries are not part of the stats schema.
        }
    }
    return out;
}

uint64_t parse_u64(const std::string& text, uint64_t max_value) {
    std::string t = trim(text);
    if (t == "max") return max_value;
    if (t.empty() || t.find_first_not_of("0123456789") != std::string::npos)
        throw Error("invalid number \"" + t + "\"");
    try {
        return std::stoull(t);
    } catch (const std::exception&) {
        throw Error("invalid number \"" + t + "\"");
    }
}

std::vector<uint64_t> read_u64_list(const std::string& path) {
    std::vector<uint64_t> out;
    auto text = read_opt(path);
    if (!text) return out;
    for (auto tok : skiff::text::fields(*text)) out.push_back(parse_u64(std::string(tok)));
    return out;
}

std::vector<std::string> mkdir_p(const std::string& path) {
    std::vector<std::string> created;
    // The parent usually exists: one mkdir, not one per component from the root.
    At a = at(path);
    if (::mkdirat(a.fd, a.rel.c_str(), 0755) == 0) {
        created.push_back(path);
        return created;
    }
    if (errno == EEXIST) return created;
    if (errno != ENOENT) throw_errno("mkdir " + path);
    // A shared parent (the default "/skiff") goes with the last container's delete, so another
    // runtime may remove it between our mkdir of it and of the child: walk again.
    for (int attempt = 0;; ++attempt) {
        bool vanished = false;
        size_t pos = 0;
        while (pos <= path.size() && !vanished) {
            size_t next = path.find('/', pos);
            if (next == std::string::npos) next = path.size();
            std::string cur = path.substr(0, next);
            pos = next + 1;
            if (cur.empty()) continue;
            At c = at(cur);
            if (c.rel == ".") continue;  // an anchor: it exists
            if (::mkdirat(c.fd, c.rel.c_str(), 0755) == 0) {
                created.push_back(cur);
            } else if (errno == ENOENT && attempt < 8) {
                vanished = true;
            } else if (errno != EEXIST) {
                throw_errno("mkdir " + cur);
            }
        }
        if (!vanished) return created;
    }
}

static DIR* open_dir(const std::string& dir) {
    int fd = open_at(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return nullptr;
    DIR* d = ::fdopendir(fd);
    if (!d) ::close(fd);
    return d;
}

static void collect(const std::string& dir, std::vector<std::string>& out) {
    DIR* d = open_dir(dir);
    if (!d) {
        if (errno == ENOENT) return;
        throw_errno("open " + dir);
    }
    while (dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        if (e->d_type == DT_DIR) collect(join(dir, name), out);
    }
    ::closedir(d);
    out.push_back(dir);
}

std::vector<std::string> subtree_dirs_deepest_first(const std::string& path) {
    std::vector<std::string> out;
    collect(path, out);
    return out;
}

bool is_cgroupfs(const std::string& path) {
    struct statfs sfs;
    int fd = open_at(path, O_PATH);
    if (fd < 0) return false;
    int r = ::fstatfs(fd, &sfs);
    ::close(fd);
    if (r != 0) return false;
    return sfs.f_type == CGROUP_SUPER_MAGIC || sfs.f_type == CGROUP2_SUPER_MAGIC;
}

// A test tree holds plain files where cgroupfs has interface files; those must go first.
static void unlink_plain_files(const std::string& dir) {
    DIR* d = open_dir(dir);
    if (!d) return;
    while (dirent* e = ::readdir(d)) {
        if (e->d_type == DT_REG) ::unlinkat(::dirfd(d), e->d_name, 0);
    }
    ::closedir(d);
}

void remove_dir(const std::string& path) {
    if (!exists(path)) return;
    if (!is_cgroupfs(path)) unlink_plain_files(path);
    // Processes that were just killed may still be leaving the cgroup: retry, quickly at first.
    // Up to about a second: a loaded host takes that long to reap a large process (a VM's
    // QEMU), and giving up sooner leaks the directory.
    int delay_us = 500;
    for (int waited_us = 0;; waited_us += delay_us) {
        if (rmdir_at(path) == 0 || errno == ENOENT) return;
        int e = errno;
        if ((e != EBUSY && e != ENOTEMPTY) || waited_us >= 1000000) throw_errno("remove cgroup " + path, e);
        std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
        delay_us = std::min(delay_us * 2, 50000);
    }
}

}  // namespace skiff::cgroups::fs
