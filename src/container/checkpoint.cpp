// `checkpoint`: criu dump (or pre-dump) of the container's init and everything below it.
#include "container/checkpoint.hpp"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "container/checkpoint_files.hpp"
#include "container/criu.hpp"
#include "container/criu_externals.hpp"
#include "container/state.hpp"
#include "base/error.hpp"
#include "base/text.hpp"
#include "linux/log.hpp"
#include "oci/config.hpp"

namespace skiff::container {
namespace {

// The cgroup CRIU freezes the tree with: the v2 cgroup, or the v1 freezer hierarchy's.
std::string freezer_path(cgroups::Manager& cg) {
    std::string v1;
    for (const auto& h : cg.hierarchies()) {
        if (h.fstype == "cgroup2" && h.name.empty()) return h.host_path;
        if (h.fstype == "cgroup" && (h.options == "freezer" || h.options.find("freezer,") == 0 ||
                                     h.options.find(",freezer") != std::string::npos))
            v1 = h.host_path;
    }
    return v1;
}

std::pair<std::string, std::string> split_page_server(const std::string& value) {
    size_t colon = value.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == value.size())
        throw Error("invalid --page-server " + value + ": want ADDRESS:PORT", EINVAL);
    std::string port = value.substr(colon + 1);
    char* end = nullptr;
    long n = std::strtol(port.c_str(), &end, 10);
    if (*end || n <= 0 || n > 65535) throw Error("invalid --page-server port " + port, EINVAL);
    return {value.substr(0, colon), port};
}

// --parent-path names a previous (pre-dump) image directory relative to the image path, as
// CRIU's --prev-images-dir does; refused before CRIU is asked anything, in runc's words.
// The two are joined lexically, as runc does: the image directory need not exist yet.
void check_parent_path(const std::string& image_path, const std::string& parent) {
    if (parent.empty()) return;
    if (parent[0] == '/') throw Error("--parent-path must be relative", EINVAL);
    const std::string real = text::join_lexically(image_path.empty() ? std::string("checkpoint") : image_path, parent);
    struct stat st {};
    if (::stat(real.c_str(), &st) != 0) {
        const int err = errno;
        throw Error("invalid --parent-path: stat " + real + ": " + std::strerror(err), err);
    }
    if (!S_ISDIR(st.st_mode))
        throw Error("invalid --parent-path: stat " + real + ": " + std::strerror(ENOTDIR), ENOTDIR);
}

}  // namespace

void checkpoint(const Globals& g, const std::string& id, const CheckpointOptions& o) {
    validate_id(id);
    Store store(g.root);
    Record r = store.load(id);
    Status s = status_of(store, r);
    if (s != Status::running && s != Status::paused)
        throw Error(std::string("Container cannot be checkpointed in ") + status_name(s) + " state", EINVAL);
    const std::string mode = criu::cgroups_mode(o.manage_cgroups_mode);
    if (!o.empty_ns.empty() && o.empty_ns != "network")
        throw Error("invalid --empty-ns " + o.empty_ns + ": only network is supported", EINVAL);
    std::pair<std::string, std::string> page_server;
    if (!o.page_server.empty()) page_server = split_page_server(o.page_server);
    if (o.status_fd >= 0) {
        int fl = ::fcntl(o.status_fd, F_GETFL);
        if (fl < 0) throw Error("invalid --status-fd argument " + std::to_string(o.status_fd), EBADF);
        if ((fl & O_ACCMODE) == O_RDONLY)
            throw Error("invalid --status-fd argument " + std::to_string(o.status_fd) + ": not writable", EBADF);
    }

    check_parent_path(o.image_path, o.parent_path);

    // Refuse here, before anything is frozen, when CRIU cannot work on this kernel.
    const std::string criu_bin = criu::locate(g.criu, "checkpoint");
    criu::ensure_usable(criu_bin, "checkpoint");
    if (o.pre_dump && !criu::has_feature(criu_bin, "mem_dirty_track"))
        throw Error("pre-dump is not supported on this host: CRIU cannot track dirty memory here", ENOTSUP);
    if (o.lazy_pages && !criu::has_feature(criu_bin, "uffd-noncoop"))
        throw Error("lazy-pages is not supported on this host: no userfaultfd for CRIU here", ENOTSUP);

    const std::string images = absolute_dir(o.image_path.empty() ? "checkpoint" : o.image_path, "image path");
    const std::string work = o.work_path.empty() ? images : absolute_dir(o.work_path, "work path");
    const std::string log_name = o.pre_dump ? "pre-dump.log" : "dump.log";

    // delete, another checkpoint and restore wait until this one is done
    Fd lock = store.lock(id);
    r = store.load(id);
    s = status_of(store, r);
    if (s != Status::running && s != Status::paused)
        throw Error(std::string("Container cannot be checkpointed in ") + status_name(s) + " state", EINVAL);
    oci::Spec spec = oci::parse_config(r.config);
    auto cg = cgroup_of(r);

    criu::Invocation inv;
    inv.log_path = work + "/" + log_name;
    auto& a = inv.args;
    a = {o.pre_dump ? "pre-dump" : "dump", "--tree", std::to_string(r.pid), "--images-dir", images,
         "--work-dir", work, "--log-file", log_name, "-v4", "--root", r.rootfs, "--manage-cgroups=" + mode};
    std::string freezer = freezer_path(*cg);
    if (!freezer.empty()) a.insert(a.end(), {"--freeze-cgroup", freezer});
    if (o.leave_running && !o.pre_dump) a.push_back("--leave-running");
    if (o.tcp_established) a.push_back("--tcp-established");
    if (o.ext_unix_sk) a.push_back("--ext-unix-sk");
    // A terminal's master is outside the container (with the console socket's receiver): CRIU
    // dumps the lone slave only as a shell job (runc's RPC asks for orphan_pts_master, which has
    // the same effect on a dump and which the command line lacks). The restore gives it a new pty.
    if (o.shell_job || (spec.process && spec.process->terminal)) a.push_back("--shell-job");
    if (o.file_locks) a.push_back("--file-locks");
    if (o.auto_dedup) a.push_back("--auto-dedup");
    if (!o.empty_ns.empty()) a.insert(a.end(), {"--empty-ns", "net"});
    if (!o.parent_path.empty()) a.insert(a.end(), {"--prev-images-dir", o.parent_path, "--track-mem"});
    if (!o.page_server.empty())
        a.insert(a.end(), {"--page-server", "--address", page_server.first, "--port", page_server.second});
    if (o.lazy_pages) {
        a.push_back("--lazy-pages");
        if (o.status_fd >= 0) {
            a.insert(a.end(), {"--status-fd", "3"});
            inv.pass_fds.push_back({o.status_fd, 3});
        }
    }
    if (!o.pre_dump) {
        for (const auto& e : criu::dump_externals(spec, r.pid)) a.insert(a.end(), {"--external", e});
        for (const auto& b : criu::cgroup_binds(spec, hierarchy_paths(*cg)))
            a.insert(a.end(), {"--external", "mnt[" + b.mountpoint + "]:" + b.mountpoint});
        write_descriptors(images, criu::stdio_targets(r.pid));
        write_manifest(images, r, spec);
    }

    const bool was_paused = s == Status::paused;
    log::phase(o.pre_dump ? "criu pre-dump" : "criu dump");
    try {
        criu::run(criu_bin, inv);
    } catch (const Error&) {
        // CRIU resumes the tree when it fails; when it died instead, the freezer may still
        // hold it: never leave a running container half-stopped.
        if (!was_paused) {
            try {
                cg->thaw();
            } catch (const Error& e) {
                log::warn(std::string("thaw after a failed checkpoint: ") + e.what());
            }
        }
        throw;
    }
    log::phase("checkpointed");
    if (o.leave_running || o.pre_dump) return;
    // CRIU stopped the tree: what is left is the record and the cgroup, as runc deletes them.
    lock.reset();
    remove(g, id, true);
}

}  // namespace skiff::container
