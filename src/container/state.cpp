#include "container/state.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "cgroups/manager.hpp"
#include "container/internal.hpp"
#include "container/notify_socket.hpp"
#include "oci/config.hpp"
#include "base/error.hpp"
#include "base/text.hpp"

namespace skiff::container {
namespace {

// Writes the state file over itself: no temp file and rename. On an ext4 without a journal each
// new inode is found by skipping every inode freed in the last minutes (recently_deleted()),
// so a temp file per save cost more than the rest of the write under container churn. Only
// create writes, holding the id's lock; a reader that catches a write half done finds no whole
// record line, and try_load then answers from the lock. A shorter text is padded with
// spaces instead of truncating, so there is never an empty file, even if create dies here.
void write_in_place(const std::string& path, const std::vector<std::string_view>& parts) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) throw_errno("open " + path);
    Fd f(fd);
    struct stat st;
    if (::fstat(fd, &st) < 0) throw_errno("stat " + path);
    std::vector<struct iovec> iov;
    size_t total = 0;
    for (auto p : parts) {
        iov.push_back({const_cast<char*>(p.data()), p.size()});
        total += p.size();
    }
    std::string pad(total < size_t(st.st_size) ? size_t(st.st_size) - total : 0, ' ');
    if (!pad.empty()) iov.push_back({pad.data(), pad.size()});
    // Mostly one call; a short write goes on from where it stopped.
    size_t done = 0, i = 0;
    while (i < iov.size()) {
        ssize_t n = ::pwritev(fd, iov.data() + i, int(iov.size() - i), off_t(done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("write " + path);
        done += size_t(n);
        size_t left = size_t(n);
        while (i < iov.size() && left >= iov[i].iov_len) left -= iov[i++].iov_len;
        if (i < iov.size() && left) {
            iov[i].iov_base = static_cast<char*>(iov[i].iov_base) + left;
            iov[i].iov_len -= left;
        }
    }
}

// The file holds the config create was given, a newline, then the record as one line of JSON.
// The config never changes and comes first, so a rewrite of the record leaves its bytes as
// they were (no escaping, no parsing it as part of the record); only the last line changes.
struct Saved {
    nlohmann::json record;
    std::string config;
};

std::optional<Saved> read_state(const std::string& path, const std::string& id) {
    std::string content;
    try {
        content = text::read_file(path);
    } catch (const Error&) {
        return std::nullopt;
    }
    size_t end = content.find_last_not_of(" \n");  // spaces: padding of a shorter rewrite
    if (end == std::string::npos) return std::nullopt;
    size_t nl = content.rfind('\n', end);
    size_t from = nl == std::string::npos ? 0 : nl + 1;
    auto j = nlohmann::json::parse(content.begin() + long(from), content.begin() + long(end) + 1, nullptr, false);
    // A write caught half way leaves no record line, or a line of the config: not our record.
    if (j.is_discarded() || !j.is_object() || j.value("id", "") != id) return std::nullopt;
    if (nl != std::string::npos) content.resize(nl);
    else content.clear();
    return Saved{std::move(j), std::move(content)};
}

}  // namespace

const char* status_name(Status s) {
    switch (s) {
        case Status::creating: return "creating";
        case Status::created: return "created";
        case Status::running: return "running";
        case Status::paused: return "paused";
        case Status::stopped: return "stopped";
    }
    return "unknown";
}

void validate_id(const std::string& id) {
    if (id.empty()) throw Error("container id cannot be empty", EINVAL);
    // The id names a directory in --root and a cgroup: longer than NAME_MAX cannot be either.
    if (id.size() > 255) throw Error("invalid container id: longer than 255 characters", EINVAL);
    if (id == "." || id == "..") throw Error("invalid container id: " + id, EINVAL);
    for (char c : id) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '+' || c == '-' || c == '.';
        if (!ok) throw Error("invalid container id format: " + id, EINVAL);
    }
}

Fd Store::make_locked(const std::string& id) {
    if (::mkdir(root_.c_str(), 0700) < 0 && errno != EEXIST) {
        // Like runc, make missing parents too (containerd passes /run/containerd/runc/<ns>).
        for (size_t i = 1; i < root_.size(); ++i)
            if (root_[i] == '/') ::mkdir(root_.substr(0, i).c_str(), 0711);
        if (::mkdir(root_.c_str(), 0700) < 0 && errno != EEXIST) throw_errno("create state root " + root_);
    }
    Fd f(::open(path(id).c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!f) {
        if (errno == EEXIST) throw Error("container with given ID already exists", EEXIST);
        throw_errno("create state file " + path(id));
    }
    while (::flock(f.get(), LOCK_EX) < 0) {
        if (errno == EINTR) continue;
        int e = errno;
        ::unlink(path(id).c_str());
        throw_errno("lock " + path(id), e);
    }
    return f;
}

bool Store::exists(const std::string& id) const {
    struct stat st;
    return ::lstat(path(id).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::optional<Record> Store::try_load(const std::string& id) const {
    if (!exists(id)) return std::nullopt;
    Record r;
    r.id = id;
    std::string file = path(id);
    auto state = read_state(file, id);
    if (!state) {
        // No record yet, or one being written: while create holds the lock it is `creating`;
        // once it let go, the file is whole (read it again) or create died before writing.
        Fd l = lock(id, false);
        if (!l.valid()) return r;
        state = read_state(file, id);
        if (!state) return r;
    }
    const nlohmann::json& j = state->record;
    r.bundle = j.value("bundle", "");
    r.rootfs = j.value("rootfs", "");
    r.pid = j.value("pid", 0);
    r.pid_start = j.value("pid_start", uint64_t(0));
    r.created = j.value("created", "");
    r.cgroups_path = j.value("cgroups_path", "");
    if (j.contains("cgroup_paths") && j["cgroup_paths"].is_object())
        for (auto& [k, v] : j["cgroup_paths"].items())
            if (v.is_string()) r.cgroup_paths[k] = v.get<std::string>();
    r.systemd_cgroup = j.value("systemd_cgroup", false);
    r.rootless_cgroup = j.value("rootless_cgroup", false);
    r.no_cgroup = j.value("no_cgroup", false);
    r.creating = j.value("creating", false);
    r.owner = j.value("owner", "root");
    r.has_poststart = j.value("has_poststart", false);
    r.has_poststop = j.value("has_poststop", false);
    r.config = std::move(state->config);
    if (j.contains("net_devices") && j["net_devices"].is_object())
        for (auto& [k, v] : j["net_devices"].items())
            if (v.is_number_integer()) r.net_device_indexes[k] = v.get<int>();
    if (j.contains("net_device_identities") && j["net_device_identities"].is_object())
        for (auto& [k, v] : j["net_device_identities"].items())
            if (v.is_string()) r.net_device_identities[k] = v.get<std::string>();
    if (j.contains("annotations") && j["annotations"].is_object())
        for (auto& [k, v] : j["annotations"].items())
            if (v.is_string()) r.annotations[k] = v.get<std::string>();
    return r;
}

Record Store::load(const std::string& id) const {
    auto r = try_load(id);
    if (!r) throw Error("container does not exist", ENOENT);
    return *r;
}

void Store::save(const Record& r) const {
    nlohmann::json j = {{"id", r.id},
                        {"bundle", r.bundle},
                        {"rootfs", r.rootfs},
                        {"pid", r.pid},
                        {"pid_start", r.pid_start},
                        {"created", r.created},
                        {"annotations", r.annotations},
                        {"cgroups_path", r.cgroups_path},
                        {"cgroup_paths", r.cgroup_paths},
                        {"systemd_cgroup", r.systemd_cgroup},
                        {"rootless_cgroup", r.rootless_cgroup},
                        {"no_cgroup", r.no_cgroup},
                        {"creating", r.creating},
                        {"owner", r.owner},
                        {"has_poststart", r.has_poststart},
                        {"has_poststop", r.has_poststop}};
    if (!r.net_device_indexes.empty()) j["net_devices"] = r.net_device_indexes;
    if (!r.net_device_identities.empty()) j["net_device_identities"] = r.net_device_identities;
    std::string record = j.dump();
    write_in_place(path(r.id), {r.config, "\n", record});
}

std::vector<std::string> Store::ids() const {
    std::vector<std::string> out;
    DIR* d = ::opendir(root_.c_str());
    if (!d) return out;
    while (struct dirent* e = ::readdir(d)) {
        // Not ours: dot files, the fifos (':' is never in an id), anything not a file.
        if (e->d_name[0] == '.' || strchr(e->d_name, ':')) continue;
        if (e->d_type == DT_REG || e->d_type == DT_UNKNOWN) out.emplace_back(e->d_name);
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

void Store::remove(const std::string& id) const {
    vm::teardown(root_, id);
    ::unlink(fifo_path(id).c_str());
    notify::remove_dir(root_, id);
    ::unlink(path(id).c_str());
}

Fd Store::lock(const std::string& id, bool wait) const {
    std::string file = path(id);
    Fd f(::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!f) {
        if (errno == ENOENT) throw Error("container does not exist", ENOENT);
        throw_errno("open " + file);
    }
    while (::flock(f.get(), LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
        if (errno == EINTR) continue;
        if (errno == EWOULDBLOCK) return Fd();
        throw_errno("lock " + file);
    }
    // A delete that held the lock before us unlinked the file: it is gone, not ours to use.
    struct stat held, now;
    if (::fstat(f.get(), &held) < 0 || ::stat(file.c_str(), &now) < 0 || held.st_ino != now.st_ino ||
        held.st_dev != now.st_dev)
        throw Error("container does not exist", ENOENT);
    return f;
}

uint64_t process_start_time(pid_t pid) {
    if (pid <= 0) return 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[1024];
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    // comm may contain spaces and parentheses: fields restart after the last ')'.
    char* p = strrchr(buf, ')');
    if (!p) return 0;
    char state = 0;
    unsigned long long start = 0;
    // state is field 3; starttime is field 22.
    if (sscanf(p + 2, "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
               &state, &start) != 2)
        return 0;
    if (state == 'Z' || state == 'X') return 0;
    return start;
}

void write_pid_file(const std::string& path, pid_t pid) {
    std::string tmp = path + ".skiff-tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw_errno("open pid file " + tmp);
    std::string s = std::to_string(pid);
    bool ok = ::write(fd, s.data(), s.size()) == ssize_t(s.size());
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), path.c_str()) < 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        throw_errno("write pid file " + path, err);
    }
}

Status status_of(const Store& store, const Record& r) {
    if (r.creating) {
        Fd l = store.lock(r.id, false);
        if (!l.valid()) return Status::creating;  // create is still at work
        return Status::stopped;                   // create died half way
    }
    if (r.pid <= 0 || process_start_time(r.pid) != r.pid_start) return Status::stopped;
    struct stat st;
    if (::stat(store.fifo_path(r.id).c_str(), &st) == 0) return Status::created;
    try {
        if (cgroup_of(r)->frozen()) return Status::paused;
    } catch (const Error&) {
    }
    return Status::running;
}

namespace {
// Whether the saved config has create make a mount namespace (not join one by path).
bool own_mount_namespace(const std::string& config) {
    try {
        oci::Spec spec = oci::parse_config(config);
        if (!spec.linux) return false;
        for (const auto& ns : spec.linux->namespaces)
            if (ns.type == "mount") return ns.path.empty();
    } catch (const Error&) {
    }
    return false;
}
}  // namespace

std::unique_ptr<cgroups::Manager> cgroup_of(const Record& r) {
    cgroups::Options o;
    o.cgroups_path = r.cgroups_path;
    o.container_id = r.id;
    o.systemd = r.systemd_cgroup;
    o.rootless = r.rootless_cgroup;
    o.paths = r.cgroup_paths;
    o.none = r.no_cgroup;
    o.init_pid = r.pid;
    if (r.no_cgroup) o.none_own_mount_ns = own_mount_namespace(r.config);
    return cgroups::open(o);
}

std::string state_document(const Record& r, Status s, bool pretty) {
    nlohmann::json j = {{"ociVersion", "1.3.0"},
                        {"id", r.id},
                        {"status", status_name(s)},
                        {"pid", (s == Status::stopped) ? 0 : r.pid},
                        {"bundle", r.bundle},
                        {"rootfs", r.rootfs},
                        {"created", r.created},
                        {"owner", r.owner}};
    if (!r.annotations.empty()) j["annotations"] = r.annotations;
    return pretty ? j.dump(2) : j.dump();
}

}  // namespace skiff::container
