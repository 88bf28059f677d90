// A container's record: the file <root>/<id> (JSON: what the runtime needs later, with the
// config create was given, as runc keeps it; flock on it is the id's lock) and, while the
// container waits for `start`, the fifo <root>/<id>:exec.fifo (':' is never in an id).
// Files, not a directory per container: every inode made costs on the state root's
// filesystem (see write_in_place in state.cpp), and a run now makes one.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cgroups/manager.hpp"
#include "linux/fd.hpp"

namespace skiff::container {

struct Record {
    std::string id;
    std::string bundle;
    std::string rootfs;
    pid_t pid = 0;
    uint64_t pid_start = 0;  // /proc/<pid>/stat start time: guards against pid reuse
    std::string created;     // RFC 3339
    std::map<std::string, std::string> annotations;
    std::string cgroups_path;
    std::map<std::string, std::string> cgroup_paths;  // Manager::paths(): reopen exactly these
    bool systemd_cgroup = false;
    bool rootless_cgroup = false;  // cgroups::Options::rootless (the user's systemd, ...)
    bool no_cgroup = false;  // rootless without a delegated cgroup (cgroups/none_manager.hpp)
    bool creating = true;    // true until create finished
    std::string owner = "root";
    bool has_poststart = false;  // saves parsing the saved config when there is nothing to run
    bool has_poststop = false;
    std::string config;  // the config.json text create was given
    // linux.netDevices: host name -> the device's ifindex in the container's namespace after
    // create moved it. delete returns that device, not whatever then has the name.
    std::map<std::string, int> net_device_indexes;
    std::map<std::string, std::string> net_device_identities;  // netlink::Route::identity()
};

enum class Status { creating, created, running, paused, stopped };
const char* status_name(Status s);

class Store {
public:
    explicit Store(std::string root) : root_(std::move(root)) {}
    const std::string& root() const { return root_; }
    std::string path(const std::string& id) const { return root_ + "/" + id; }

    // Makes <root>/<id> exclusively and returns it locked; throws "container with given ID
    // already exists".
    Fd make_locked(const std::string& id);
    bool exists(const std::string& id) const;
    // Loads the record; throws "container does not exist" when there is none.
    Record load(const std::string& id) const;
    // Loads what is there for a create that died half way (no state.json yet).
    std::optional<Record> try_load(const std::string& id) const;
    // Written in place under the id's lock (see state.cpp for why not through a rename).
    void save(const Record& r) const;
    std::vector<std::string> ids() const;
    void remove(const std::string& id) const;
    std::string fifo_path(const std::string& id) const { return path(id) + ":exec.fifo"; }

    // flock(LOCK_EX) on the container's file, held while the Fd lives; "container does not
    // exist" when there is none, or it was deleted while we waited. wait=false: an invalid
    // Fd when someone else holds it.
    Fd lock(const std::string& id, bool wait = true) const;

private:
    std::string root_;
};

// Validates an id: runc's rules (letters, digits, _ + - .; no / or ..; not empty; <= 1024).
void validate_id(const std::string& id);

// Start time of pid from /proc, 0 when the process is gone or a zombie.
uint64_t process_start_time(pid_t pid);

Status status_of(const Store& store, const Record& r);

// The container's cgroup, reopened from what create recorded.
std::unique_ptr<cgroups::Manager> cgroup_of(const Record& r);

// The state document of runtime.md as JSON.
std::string state_document(const Record& r, Status s, bool pretty = true);

}  // namespace skiff::container
