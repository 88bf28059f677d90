// Trees brought into a running pod VM's share (pod_vm.hpp): the share is a staging tmpfs in
// virtiofsd's own mount namespace (shares.hpp), which virtiofsd's sandboxed child serves as
// its root. A child of ours clones each tree on the host (open_tree), enters that namespace
// and moves it in; the guest sees it at its next lookup (a submount, announced as such).
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

#include "base/error.hpp"
#include "linux/fd.hpp"
#include "linux/syscalls.hpp"
#include "vm/clock.hpp"
#include "vm/paths.hpp"
#include "vm/pod_vm.hpp"
#include "vm/vm.hpp"

namespace skiff::vm {
namespace {

// The mount namespace virtiofsd serves from: its sandboxed child's, whose root is the share.
// virtiofsd forks that child once QEMU has connected: a pod VM just started may not have it
// yet, so wait for it (`wait_s`) while virtiofsd lives.
Fd serving_namespace(const std::string& root, const std::string& sandbox, double wait_s) {
    double until = monotonic_seconds() + wait_s;
    for (;;) {
        std::vector<pid_t> pids = helper_pids(root, sandbox);
        if (pids.size() >= 2)
            return Fd(::open(("/proc/" + std::to_string(pids.back()) + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC));
        if (pids.empty() || monotonic_seconds() > until) return Fd();
        struct timespec ts = {0, 20000000};
        ::nanosleep(&ts, nullptr);
    }
}

// The share's tmpfs is read-only once staged (shares.cpp): writable only while we add.
bool remount_share(bool readonly) {
    unsigned long flags = MS_REMOUNT | MS_NOSUID | MS_NODEV | (readonly ? MS_RDONLY : 0);
    return ::mount(nullptr, "/", nullptr, flags, nullptr) == 0;
}

// Runs `body` in a child that entered `ns`; its error text comes back through a pipe.
template <typename Body>
void in_namespace_child(int ns, Body body) {
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) < 0) throw_errno("pipe");
    pid_t child = ::fork();
    if (child < 0) throw_errno("fork");
    if (child == 0) {
        ::close(pipefd[0]);
        std::string err;
        if (::setns(ns, CLONE_NEWNS) < 0) err = std::string("enter virtiofsd's mount namespace: ") + std::strerror(errno);
        else err = body();
        if (!err.empty()) {
            ssize_t w = ::write(pipefd[1], err.data(), err.size());
            (void)w;
        }
        ::_exit(err.empty() ? 0 : 1);
    }
    ::close(pipefd[1]);
    std::string err;
    char buf[512];
    ssize_t n;
    while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0) err.append(buf, size_t(n));
    ::close(pipefd[0]);
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (!err.empty() || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw Error("VM isolation: into the pod VM's share: " + (err.empty() ? std::string("failed") : err), EIO);
}

}  // namespace

void stage_into_pod_vm(const std::string& root, const std::string& sandbox, const std::vector<StagedTree>& trees) {
    Fd ns = serving_namespace(root, sandbox, 120);
    if (!ns) throw Error("VM isolation: the pod VM " + sandbox + " is not running (its virtiofsd is gone)", ESRCH);
    // Cloned here, in the host's mount namespace, where the paths mean what the config says.
    std::vector<Fd> clones;
    for (const auto& t : trees) {
        Fd tree(sys::open_tree(AT_FDCWD, t.source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
        if (!tree) throw_errno("VM isolation: clone " + t.source + " for the pod VM");
        if (t.readonly) {
            struct mount_attr attr = {};
            attr.attr_set = MOUNT_ATTR_RDONLY;
            if (sys::mount_setattr(tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr) < 0)
                throw_errno("VM isolation: make " + t.source + " read-only");
        }
        clones.push_back(std::move(tree));
    }
    in_namespace_child(ns.get(), [&]() -> std::string {
        if (!remount_share(false)) return std::string("make the share writable: ") + std::strerror(errno);
        std::string err;
        for (size_t i = 0; i < trees.size() && err.empty(); ++i) {
            std::string at = "/" + trees[i].name;
            int made = trees[i].file ? ::open(at.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)
                                     : ::mkdir(at.c_str(), 0755);
            if (made < 0) err = "make " + at + ": " + std::strerror(errno);
            else if (trees[i].file) ::close(made);
            if (err.empty() && sys::move_mount(clones[i].get(), "", AT_FDCWD, at.c_str(), MOVE_MOUNT_F_EMPTY_PATH) < 0)
                err = "move " + trees[i].source + " to " + at + ": " + std::strerror(errno);
        }
        remount_share(true);
        return err;
    });
}

void unstage_from_pod_vm(const std::string& root, const std::string& sandbox, const std::vector<std::string>& names) {
    Fd ns = serving_namespace(root, sandbox, 0);
    if (!ns || names.empty()) return;
    try {
        in_namespace_child(ns.get(), [&]() -> std::string {
            remount_share(false);
            for (const auto& n : names) {
                std::string at = "/" + n;
                ::umount2(at.c_str(), MNT_DETACH);
                if (::rmdir(at.c_str()) < 0) ::unlink(at.c_str());
            }
            remount_share(true);
            return "";
        });
    } catch (const Error&) {
    }
}

}  // namespace skiff::vm
