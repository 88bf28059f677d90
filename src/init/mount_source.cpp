#include "init/mount_source.hpp"

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include "init/mount_options.hpp"
#include "init/steps.hpp"
#include "linux/channel.hpp"
#include "base/error.hpp"

namespace skiff::init {

Fd mount_tree_from_runtime(Context& ctx, size_t index) {
    Channel& ch = *ctx.channel;
    ch.send(Msg::mount_source, std::to_string(index));
    Message msg;
    if (!ch.receive(msg)) throw Error("the runtime went away during create", EPIPE);
    if (msg.type != Msg::mount_tree) throw Error("unexpected message from the runtime", EPROTO);
    if (msg.fds.empty()) throw Error(msg.payload, EACCES);
    return std::move(msg.fds[0]);
}

Fd clone_source_for_init(int init_pidfd, const oci::Mount& m, const std::string& bundle) {
    std::string source = m.source;
    if (!source.empty() && source[0] != '/') source = bundle + "/" + source;
    MountOptions o = parse_mount_options(m.options);
    o.bind = true;
    // A child, so the runtime itself never changes its mount namespace or cwd.
    auto [ours, theirs] = Channel::pair();
    pid_t helper = ::fork();
    if (helper < 0) throw_errno("fork");
    if (helper == 0) {
        ours.close();
        try {
            if (::setns(init_pidfd, CLONE_NEWNS) < 0) throw_errno("join the container's mount namespace");
            Fd tree = clone_bind_tree(source, o);
            theirs.send(Msg::mount_tree, "", {tree.get()});
        } catch (const Error& e) {
            try {
                theirs.send(Msg::error, e.what());
            } catch (...) {
            }
        }
        ::_exit(0);
    }
    theirs.close();
    Message msg;
    bool got = ours.receive(msg);
    while (::waitpid(helper, nullptr, 0) < 0 && errno == EINTR) {
    }
    if (!got) throw Error("open bind source " + source + ": helper exited early", ECHILD);
    if (msg.type == Msg::error || msg.fds.empty()) throw Error(msg.payload, EACCES);
    return std::move(msg.fds[0]);
}

}  // namespace skiff::init
