// create, start, run, state, kill, delete, list.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/cli.hpp"
#include "base/error.hpp"

namespace skiff::cli {
namespace {

using container::Globals;

const std::vector<FlagSpec> kCreateFlags = {
    {{"bundle", "b"}, true, "path to the root of the bundle directory (default: current directory)"},
    {{"console-socket"}, true, "path to an AF_UNIX socket which will receive the pty master fd"},
    {{"pidfd-socket"}, true, "path to an AF_UNIX socket which will receive the init's pidfd"},
    {{"pid-file"}, true, "file to write the process id to"},
    {{"no-pivot"}, false, "do not use pivot_root to jail the process inside the rootfs"},
    {{"no-new-keyring"}, false, "do not create a new session keyring for the container"},
    {{"preserve-fds"}, true, "pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N)"},
};

container::CreateOptions create_options(const Args& a, const char* command) {
    container::CreateOptions o;
    o.id = container_id(a, command);
    o.bundle = a.value("bundle", ".");
    o.console_socket = a.value("console-socket");
    o.pidfd_socket = a.value("pidfd-socket");
    o.pid_file = a.value("pid-file");
    o.no_pivot = a.flag("no-pivot");
    o.no_new_keyring = a.flag("no-new-keyring");
    o.preserve_fds = a.int_value("preserve-fds", 0);
    return o;
}

int cmd_create(const Globals& g, const Args& a) {
    container::create(g, create_options(a, "create"));
    return 0;
}

int cmd_run(const Globals& g, const Args& a) {
    return container::run_container(g, create_options(a, "run"), a.flag("detach"), a.flag("keep"),
                          a.flag("no-subreaper"));
}

int cmd_start(const Globals& g, const Args& a) {
    container::start(g, container_id(a, "start"));
    return 0;
}

int cmd_state(const Globals& g, const Args& a) {
    std::string s = container::state(g, container_id(a, "state"));
    printf("%s\n", s.c_str());
    return 0;
}

int cmd_kill(const Globals& g, const Args& a) {
    std::string id = container_id(a, "kill");
    int sig = SIGTERM;
    if (a.positional().size() > 1) sig = parse_signal(a.positional()[1]);
    container::kill(g, id, sig, a.flag("all"));
    return 0;
}

int cmd_delete(const Globals& g, const Args& a) {
    container::remove(g, container_id(a, "delete"), a.flag("force"));
    return 0;
}

int cmd_list(const Globals& g, const Args& a) {
    std::string format = a.value("format", "table");
    if (format != "table" && format != "json") throw Error("invalid format option: " + format, EINVAL);
    auto entries = container::list(g);
    if (a.flag("quiet")) {
        for (const auto& e : entries) printf("%s\n", e.id.c_str());
        return 0;
    }
    if (format == "json") {
        if (entries.empty()) {
            printf("null\n");
            return 0;
        }
        // runc's field order (its list struct), which scripts matching the text rely on
        static const char* const order[] = {"ociVersion", "id",      "pid",         "status", "bundle",
                                            "rootfs",     "created", "annotations", "owner"};
        nlohmann::ordered_json arr = nlohmann::ordered_json::array();
        for (const auto& e : entries) {
            const nlohmann::json st = nlohmann::json::parse(e.state_json);
            nlohmann::ordered_json o = nlohmann::ordered_json::object();
            for (const char* k : order)
                if (st.contains(k)) o[k] = st[k];
            for (const auto& [k, v] : st.items())
                if (!o.contains(k)) o[k] = v;
            arr.push_back(std::move(o));
        }
        printf("%s\n", arr.dump().c_str());
        return 0;
    }
    // Columns like runc's tabwriter: padded to the widest cell plus three spaces.
    std::vector<std::vector<std::string>> rows = {{"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"}};
    for (const auto& e : entries)
        rows.push_back({e.id, std::to_string(e.pid), e.status, e.bundle, e.created, e.owner});
    std::vector<size_t> width(6, 0);
    for (const auto& r : rows)
        for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
    for (const auto& r : rows) {
        std::string line;
        for (size_t i = 0; i < r.size(); ++i)
            line += r[i] + (i + 1 < r.size() ? std::string(width[i] - r[i].size() + 3, ' ') : "");
        printf("%s\n", line.c_str());
    }
    return 0;
}

std::vector<FlagSpec> with(std::vector<FlagSpec> base, std::vector<FlagSpec> more) {
    base.insert(base.end(), more.begin(), more.end());
    return base;
}

}  // namespace

const std::vector<Command>& lifecycle_commands() {
    static const std::vector<Command> commands = {
        {"create", "<container-id>", "create a container", kCreateFlags, cmd_create},
        {"start", "<container-id>", "executes the user defined process in a created container", {}, cmd_start},
        {"run", "<container-id>", "create and run a container",
         with(kCreateFlags, {{{"detach", "d"}, false, "detach from the container's process"},
                             {{"keep"}, false, "do not delete the container after it exits"},
                             {{"no-subreaper"}, false, "disable the use of the subreaper used to reap reparented processes"}}),
         cmd_run},
        {"state", "<container-id>", "output the state of a container", {}, cmd_state},
        {"kill", "<container-id> [signal]", "kill sends the specified signal (default: SIGTERM) to the container's init process",
         {{{"all", "a"}, false, "send the specified signal to all processes inside the container"}}, cmd_kill, 2, false},
        {"delete", "<container-id>", "delete any resources held by the container often used with detached container",
         {{{"force", "f"}, false, "forcibly deletes the container if it is still running (uses SIGKILL)"}}, cmd_delete},
        {"list", "", "lists containers started by skiff with the given root",
         {{{"format", "f"}, true, "select one of: table or json (default: \"table\")"},
          {{"quiet", "q"}, false, "display only container IDs"}},
         cmd_list, 0},
    };
    return commands;
}

}  // namespace skiff::cli
