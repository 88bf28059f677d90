// The guest's initramfs: this same static binary as /init (the agent), built once per binary,
// gzip'd and cached; each container appends a small archive with its config (the kernel unpacks
// concatenated archives in order, compressed or not).
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

#include "base/error.hpp"
#include "base/text.hpp"
#include "vm/paths.hpp"

namespace skiff::vm {
namespace {

void hex8(std::string& out, unsigned long v) {
    char b[9];
    std::snprintf(b, sizeof b, "%08lX", v & 0xffffffffUL);
    out += b;
}

void pad4(std::string& out) {
    while (out.size() % 4) out += '\0';
}

void entry(std::string& out, unsigned long ino, const std::string& name, unsigned mode, const std::string& data,
           unsigned rmaj = 0, unsigned rmin = 0) {
    out += "070701";
    for (unsigned long v : {ino, (unsigned long)mode, 0UL, 0UL, 1UL, 0UL, (unsigned long)data.size(), 0UL, 0UL,
                            (unsigned long)rmaj, (unsigned long)rmin, (unsigned long)name.size() + 1, 0UL})
        hex8(out, v);
    out += name;
    out += '\0';
    pad4(out);
    out += data;
    pad4(out);
}

void write_atomically(const std::string& path, const std::string& data) {
    std::string tmp = path + ".tmp" + std::to_string(::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw_errno("create " + tmp);
    size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            ::close(fd);
            ::unlink(tmp.c_str());
            throw_errno("write " + tmp, e);
        }
        off += size_t(n);
    }
    ::close(fd);
    if (::rename(tmp.c_str(), path.c_str()) < 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        throw_errno("rename " + tmp, e);
    }
}

// `archive` gzip'd by the host's gzip (in Debian's essential set), zero-padded to 4 bytes: an
// archive appended to it must start 4-aligned, and the kernel skips the zeros. Why: QEMU maps
// each VM's initrd file and keeps it for a reboot, so every byte of it is host memory per VM
// (bench/vm.sh). Empty when gzip is missing or fails: the archive stays uncompressed then.
std::string gzipped(const std::string& archive, const std::string& tmp_base) {
    const char* gz = ::access("/usr/bin/gzip", X_OK) == 0 ? "/usr/bin/gzip" : "/bin/gzip";
    std::string in = tmp_base + ".in", out = tmp_base + ".gz";
    std::string result;
    try {
        write_atomically(in, archive);
        int ifd = ::open(in.c_str(), O_RDONLY | O_CLOEXEC);
        int ofd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        pid_t pid = ifd >= 0 && ofd >= 0 ? ::fork() : -1;
        if (pid == 0) {
            if (::dup2(ifd, 0) < 0 || ::dup2(ofd, 1) < 0) ::_exit(127);
            const char* argv[] = {gz, "-n", "-c", nullptr};
            const char* envp[] = {"PATH=/usr/bin:/bin", nullptr};
            ::execve(gz, const_cast<char**>(argv), const_cast<char**>(envp));
            ::_exit(127);
        }
        int status = -1;
        while (pid > 0 && ::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        if (ifd >= 0) ::close(ifd);
        if (ofd >= 0) ::close(ofd);
        if (pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            result = text::read_file(out);
            while (result.size() % 4) result += '\0';
        }
    } catch (const Error&) {
        result.clear();
    }
    ::unlink(in.c_str());
    ::unlink(out.c_str());
    return result;
}

// Cached archives of other (older) binaries: one each, nothing else removes them. Files of
// the last minute stay: another binary may have just written its own and be about to read
// it (a reader that loses one falls back to the container's directory), or a writer's .tmp.
void prune_other_initramfs(const std::string& dir, const std::string& keep) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return;
    const time_t cutoff = ::time(nullptr) - 60;
    while (struct dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name.rfind("initrd-skiff-", 0) != 0 || dir + "/" + name == keep) continue;
        struct stat st;
        if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
            st.st_mtime < cutoff)
            ::unlinkat(::dirfd(d), e->d_name, 0);
    }
    ::closedir(d);
}

}  // namespace

std::string cpio(const std::vector<CpioEntry>& entries, bool trailer) {
    std::string out;
    unsigned long ino = 1000;
    for (const auto& e : entries) {
        if (S_ISCHR(e.mode)) {
            // data holds "major:minor" for a device node
            unsigned maj = 0, min = 0;
            std::sscanf(e.data.c_str(), "%u:%u", &maj, &min);
            entry(out, ino++, e.name, e.mode, "", maj, min);
        } else {
            entry(out, ino++, e.name, e.mode, e.data);
        }
    }
    if (trailer) entry(out, 0, "TRAILER!!!", 0, "");
    return out;
}

std::string base_initramfs(const std::string& dir) {
    struct stat st;
    if (::stat("/proc/self/exe", &st) < 0) throw_errno("stat /proc/self/exe");
    std::string path = dir + "/initrd-skiff-" + std::to_string(st.st_size) + "-" + std::to_string(st.st_mtim.tv_sec) +
                       "." + std::to_string(st.st_mtim.tv_nsec) + ".cpio";
    if (::access(path.c_str(), R_OK) == 0) return path;
    std::string exe = text::read_file("/proc/self/exe");
    std::string archive = cpio({{"dev", S_IFDIR | 0755, ""},
                                {"dev/console", S_IFCHR | 0600, "5:1"},
                                {"proc", S_IFDIR | 0755, ""},
                                {"sys", S_IFDIR | 0755, ""},
                                {"newroot", S_IFDIR | 0755, ""},
                                {"init", S_IFREG | 0755, exe}},
                               true);
    std::string packed = gzipped(archive, path + ".tmp" + std::to_string(::getpid()));
    write_atomically(path, packed.empty() ? archive : packed);
    prune_other_initramfs(dir, path);
    return path;
}

}  // namespace skiff::vm
