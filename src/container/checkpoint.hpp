// `checkpoint` and `restore` with CRIU (runc's commands and flags). What CRIU cannot see by
// itself is declared to it as runc declares it: bind mounts and masked files as external
// mounts, namespaces joined by path as external namespaces, the stdio pipes through
// descriptors.json in the image directory, the cgroup through --cgroup-root.
#pragma once
#include <string>

#include "container/lifecycle.hpp"

namespace skiff::container {

// Flags both commands share.
struct CriuCommon {
    std::string image_path;  // "" = ./checkpoint, as runc
    std::string work_path;   // "" = the image path
    bool tcp_established = false;
    bool ext_unix_sk = false;
    bool shell_job = false;
    bool file_locks = false;
    bool auto_dedup = false;
    bool lazy_pages = false;
    std::string manage_cgroups_mode;  // "" = soft
    std::string empty_ns;             // "network" or ""
};

struct CheckpointOptions : CriuCommon {
    std::string parent_path;  // relative to the image path, as CRIU's --prev-images-dir
    bool leave_running = false;
    bool pre_dump = false;
    std::string page_server;  // ADDRESS:PORT
    int status_fd = -1;
};

struct RestoreOptions : CriuCommon {
    std::string id;
    std::string bundle = ".";
    bool detach = false;
    std::string pid_file;
    std::string console_socket;
    bool no_subreaper = false;
    bool no_pivot = false;
    std::string lsm_profile;
    std::string lsm_mount_context;
};

// Dumps the container's process tree into the image path. Without --leave-running or
// --pre-dump CRIU stops the tree and the container is deleted, as runc does; on any
// failure the container is left running (or paused) as it was.
void checkpoint(const Globals& g, const std::string& id, const CheckpointOptions& o);

// Restores a checkpoint as container o.id from the bundle; returns the exit code of the
// restored init when not detached (then the container is deleted), else 0.
int restore(const Globals& g, const RestoreOptions& o);

}  // namespace skiff::container
