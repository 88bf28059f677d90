// checkpoint, restore: runc's flags, driven through CRIU (container/checkpoint.hpp).
#include "cli/cli.hpp"
#include "container/checkpoint.hpp"
#include "base/error.hpp"

namespace skiff::cli {
namespace {

using container::Globals;

void common_options(const Args& a, container::CriuCommon& o) {
    o.image_path = a.value("image-path");
    o.work_path = a.value("work-path");
    o.tcp_established = a.flag("tcp-established");
    o.ext_unix_sk = a.flag("ext-unix-sk");
    o.shell_job = a.flag("shell-job");
    o.file_locks = a.flag("file-locks");
    o.auto_dedup = a.flag("auto-dedup");
    o.lazy_pages = a.flag("lazy-pages");
    o.manage_cgroups_mode = a.value("manage-cgroups-mode");
    o.empty_ns = a.value("empty-ns");
}

int cmd_checkpoint(const Globals& g, const Args& a) {
    std::string id = container_id(a, "checkpoint");
    container::CheckpointOptions o;
    common_options(a, o);
    o.parent_path = a.value("parent-path");
    o.leave_running = a.flag("leave-running");
    o.pre_dump = a.flag("pre-dump");
    o.page_server = a.value("page-server");
    o.status_fd = a.int_value("status-fd", -1);
    container::checkpoint(g, id, o);
    return 0;
}

int cmd_restore(const Globals& g, const Args& a) {
    container::RestoreOptions o;
    o.id = container_id(a, "restore");
    common_options(a, o);
    o.bundle = a.value("bundle", ".");
    o.detach = a.flag("detach");
    o.pid_file = a.value("pid-file");
    o.console_socket = a.value("console-socket");
    o.no_subreaper = a.flag("no-subreaper");
    o.no_pivot = a.flag("no-pivot");
    o.lsm_profile = a.value("lsm-profile");
    o.lsm_mount_context = a.value("lsm-mount-context");
    return container::restore(g, o);
}

}  // namespace

std::vector<Command> checkpoint_commands() {
    return {
        // `checkpoint --help` succeeding is how podman tells a runtime that can checkpoint.
        {"checkpoint", "<container-id>", "checkpoint a running container (with CRIU)",
         {{{"image-path"}, true, "path for saving criu image files (default: ./checkpoint)"},
          {{"work-path"}, true, "path for saving work files and logs (default: the image path)"},
          {{"parent-path"}, true, "path for previous criu image files in pre-dump (relative to the image path)"},
          {{"leave-running"}, false, "leave the process running after checkpointing"},
          {{"tcp-established"}, false, "allow open tcp connections"},
          {{"ext-unix-sk"}, false, "allow external unix sockets"},
          {{"shell-job"}, false, "allow shell jobs"},
          {{"lazy-pages"}, false, "use userfaultfd to lazily restore memory pages"},
          {{"status-fd"}, true, "criu writes \\0 to this FD once lazy-pages is ready"},
          {{"page-server"}, true, "ADDRESS:PORT of the page server"},
          {{"file-locks"}, false, "handle file locks, for safety"},
          {{"pre-dump"}, false, "dump container's memory information only, leave the container running after this"},
          {{"manage-cgroups-mode"}, true, "cgroups mode: soft|full|strict|ignore (default: soft)"},
          {{"empty-ns"}, true, "create a namespace, but don't restore its properties (network)"},
          {{"auto-dedup"}, false, "enable auto deduplication of memory images"}},
         cmd_checkpoint},
        {"restore", "<container-id>", "restore a container from a previous checkpoint (with CRIU)",
         {{{"console-socket"}, true, "path to an AF_UNIX socket which will receive the pty master fd"},
          {{"image-path"}, true, "path to criu image files for restoring (default: ./checkpoint)"},
          {{"work-path"}, true, "path for saving work files and logs (default: the image path)"},
          {{"tcp-established"}, false, "allow open tcp connections"},
          {{"ext-unix-sk"}, false, "allow external unix sockets"},
          {{"shell-job"}, false, "allow shell jobs"},
          {{"file-locks"}, false, "handle file locks, for safety"},
          {{"manage-cgroups-mode"}, true, "cgroups mode: soft|full|strict|ignore (default: soft)"},
          {{"bundle", "b"}, true, "path to the root of the bundle directory"},
          {{"detach", "d"}, false, "detach from the container's process"},
          {{"pid-file"}, true, "specify the file to write the process id to"},
          {{"no-subreaper"}, false, "disable the use of the subreaper used to reap reparented processes"},
          {{"no-pivot"}, false, "do not use pivot root to jail process inside rootfs"},
          {{"empty-ns"}, true, "create a namespace, but don't restore its properties (network)"},
          {{"auto-dedup"}, false, "enable auto deduplication of memory images"},
          {{"lazy-pages"}, false, "use userfaultfd to lazily restore memory pages"},
          {{"lsm-profile"}, true, "Specify an LSM profile to be used during restore"},
          {{"lsm-mount-context"}, true, "Specify an LSM mount context to be used during restore"}},
         cmd_restore},
    };
}

}  // namespace skiff::cli
