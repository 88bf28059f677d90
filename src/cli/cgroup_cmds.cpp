// pause, resume, ps, update, events: commands on a running container's cgroup.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/cli.hpp"
#include "container/control.hpp"
#include "container/intel_rdt.hpp"
#include "container/ps_vm.hpp"
#include "base/error.hpp"
#include "base/text.hpp"
#include "oci/config.hpp"

namespace skiff::cli {
namespace {

using container::Globals;

int cmd_pause(const Globals& g, const Args& a) {
    container::pause(g, container_id(a, "pause"));
    return 0;
}

int cmd_resume(const Globals& g, const Args& a) {
    container::resume(g, container_id(a, "resume"));
    return 0;
}

int cmd_ps(const Globals& g, const Args& a) {
    std::string id = container_id(a, "ps");
    if (auto vm_out = container::ps_in_vm(g, id, a.value("format", "table"))) {  // pids in the guest
        fputs(vm_out->c_str(), stdout);
        return 0;
    }
    auto pids = container::pids(g, id);
    std::string format = a.value("format", "table");
    if (format == "json") {
        printf("%s\n", nlohmann::json(pids).dump().c_str());
        return 0;
    }
    if (format != "table") throw Error("invalid format option: " + format, EINVAL);
    // Like runc: run the host's ps with the given arguments and keep the container's rows.
    std::vector<std::string> ps_args(a.positional().begin() + 1, a.positional().end());
    if (ps_args.empty()) ps_args = {"-ef"};
    int out[2];
    if (::pipe2(out, O_CLOEXEC) < 0) throw_errno("pipe");
    pid_t child = ::fork();
    if (child == 0) {
        ::dup2(out[1], 1);
        std::vector<char*> argv = {const_cast<char*>("ps")};
        for (auto& s : ps_args) argv.push_back(s.data());
        argv.push_back(nullptr);
        ::execvp("ps", argv.data());
        _exit(127);
    }
    ::close(out[1]);
    std::string text;
    try {
        text = skiff::text::read_fd(out[0], "the output of ps");
    } catch (...) {
        ::close(out[0]);
        ::waitpid(child, nullptr, 0);
        throw;
    }
    ::close(out[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw Error("ps failed: " + text, EIO);
    auto rows = skiff::text::lines(text);
    std::string header = rows.empty() ? "" : std::string(rows[0]);
    // The PID column: its index among the header's fields.
    int pid_col = -1, col = 0;
    for (auto field : skiff::text::fields(header)) {
        if (field == "PID") pid_col = col;
        ++col;
    }
    if (pid_col < 0) throw Error("couldn't find PID field in ps output", EINVAL);
    std::set<pid_t> wanted(pids.begin(), pids.end());
    printf("%s\n", header.c_str());
    for (size_t r = 1; r < rows.size(); ++r) {
        std::string line(rows[r]);
        auto f = skiff::text::fields(line);
        // As a stream would read it: the PID column, or the last field of a short line.
        std::string pid = f.empty() ? "" : std::string(f[std::min(size_t(pid_col), f.size() - 1)]);
        if (wanted.count(pid_t(std::atoi(pid.c_str())))) printf("%s\n", line.c_str());
    }
    return 0;
}

// "512m", "1G", "1024" -> bytes; "-1" stays -1 (unlimited).
int64_t parse_size(const std::string& flag, const std::string& v) {
    if (v == "-1") return -1;
    char* end = nullptr;
    double n = std::strtod(v.c_str(), &end);
    std::string unit = end;
    for (auto& c : unit) c = char(::tolower(c));
    if (!unit.empty() && unit.back() == 'b') unit.pop_back();
    if (!unit.empty() && unit.back() == 'i') unit.pop_back();
    double mul = 1;
    if (unit == "k") mul = 1024;
    else if (unit == "m") mul = 1024.0 * 1024;
    else if (unit == "g") mul = 1024.0 * 1024 * 1024;
    else if (unit == "t") mul = 1024.0 * 1024 * 1024 * 1024;
    else if (!unit.empty()) throw Error("invalid value for --" + flag + ": " + v, EINVAL);
    // "inf", "nan" and sizes past int64 are no number of bytes either.
    if (v.empty() || !(n >= 0) || !(n * mul < 9.2e18)) throw Error("invalid value for --" + flag + ": " + v, EINVAL);
    return int64_t(n * mul);
}

uint64_t parse_u64(const std::string& flag, const std::string& v) {
    char* end = nullptr;
    errno = 0;
    unsigned long long n = std::strtoull(v.c_str(), &end, 10);
    if (v.empty() || *end || v[0] == '-' || errno) throw Error("invalid value for --" + flag + ": " + v, EINVAL);
    return n;
}

// A whole number, maybe negative ("-1": unlimited): garbage is an error, never 0.
int64_t parse_i64(const std::string& flag, const std::string& v) {
    char* end = nullptr;
    errno = 0;
    long long n = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end || errno) throw Error("invalid value for --" + flag + ": " + v, EINVAL);
    return n;
}

int cmd_update(const Globals& g, const Args& a) {
    std::string id = container_id(a, "update");
    oci::Resources r;
    if (a.has("resources")) {
        r = oci::parse_resources(read_input(a.value("resources")));
    }
    auto mem = [&]() -> oci::Memory& { if (!r.memory) r.memory = oci::Memory{}; return *r.memory; };
    auto cpu = [&]() -> oci::Cpu& { if (!r.cpu) r.cpu = oci::Cpu{}; return *r.cpu; };
    if (a.has("memory")) mem().limit = parse_size("memory", a.value("memory"));
    if (a.has("memory-reservation")) mem().reservation = parse_size("memory-reservation", a.value("memory-reservation"));
    if (a.has("memory-swap")) mem().swap = parse_size("memory-swap", a.value("memory-swap"));
    if (a.has("kernel-memory")) mem().kernel = parse_size("kernel-memory", a.value("kernel-memory"));
    if (a.has("kernel-memory-tcp")) mem().kernel_tcp = parse_size("kernel-memory-tcp", a.value("kernel-memory-tcp"));
    if (a.has("cpu-share")) cpu().shares = parse_u64("cpu-share", a.value("cpu-share"));
    if (a.has("cpu-period")) cpu().period = parse_u64("cpu-period", a.value("cpu-period"));
    if (a.has("cpu-quota")) cpu().quota = parse_i64("cpu-quota", a.value("cpu-quota"));
    if (a.has("cpu-burst")) cpu().burst = parse_u64("cpu-burst", a.value("cpu-burst"));
    if (a.has("cpu-rt-period")) cpu().realtime_period = parse_u64("cpu-rt-period", a.value("cpu-rt-period"));
    if (a.has("cpu-rt-runtime")) cpu().realtime_runtime = parse_i64("cpu-rt-runtime", a.value("cpu-rt-runtime"));
    if (a.has("cpu-idle")) cpu().idle = parse_i64("cpu-idle", a.value("cpu-idle"));
    if (a.has("cpuset-cpus")) cpu().cpus = a.value("cpuset-cpus");
    if (a.has("cpuset-mems")) cpu().mems = a.value("cpuset-mems");
    if (a.has("pids-limit")) r.pids = oci::Pids{parse_i64("pids-limit", a.value("pids-limit"))};
    if (a.has("blkio-weight")) {
        if (!r.block_io) r.block_io = oci::BlockIo{};
        uint64_t weight = parse_u64("blkio-weight", a.value("blkio-weight"));
        if (weight > UINT16_MAX) throw Error("invalid value for --blkio-weight: " + a.value("blkio-weight"), EINVAL);
        r.block_io->weight = uint16_t(weight);
    }
    // The container's resctrl group; without resctrl an error in runc's words, never a no-op.
    if (a.has("l3-cache-schema") || a.has("mem-bw-schema"))
        container::update_intel_rdt(g, id, a.value("l3-cache-schema"), a.value("mem-bw-schema"));
    container::update(g, id, r);
    return 0;
}

int cmd_events(const Globals& g, const Args& a) {
    std::string id = container_id(a, "events");
    std::string interval = a.value("interval", "5s");
    int ms = 5000;
    char* end = nullptr;
    double n = std::strtod(interval.c_str(), &end);
    std::string unit = end;
    if (unit == "ms") ms = int(n);
    else if (unit == "s" || unit.empty()) ms = int(n * 1000);
    else if (unit == "m") ms = int(n * 60000);
    else throw Error("invalid --interval " + interval, EINVAL);
    if (ms <= 0) throw Error("duration interval must be greater than 0", EINVAL);
    container::stream_events(g, id, ms, a.flag("stats"));
    return 0;
}

}  // namespace

std::vector<Command> cgroup_commands() {
    return {
        {"pause", "<container-id>", "pause suspends all processes inside the container", {}, cmd_pause},
        {"resume", "<container-id>", "resumes all processes that have been previously paused", {}, cmd_resume},
        {"ps", "<container-id> [ps options]", "ps displays the processes running inside a container",
         {{{"format", "f"}, true, "select one of: table or json (default: \"table\")"}}, cmd_ps, -1},
        {"update", "<container-id>", "update container resource constraints",
         {{{"resources", "r"}, true, "path to the file containing the resources to update or '-' to read from the standard input"},
          {{"blkio-weight"}, true, "specifies per cgroup weight, range is from 10 to 1000"},
          {{"cpu-period"}, true, "CPU CFS period to be used for hardcapping (in usecs)"},
          {{"cpu-quota"}, true, "CPU CFS hardcap limit (in usecs)"},
          {{"cpu-burst"}, true, "CPU CFS burst limit (in usecs)"},
          {{"cpu-share", "cpu-shares"}, true, "CPU shares (relative weight vs. other containers)"},
          {{"cpu-rt-period"}, true, "CPU realtime period to be used for hardcapping (in usecs)"},
          {{"cpu-rt-runtime"}, true, "CPU realtime hardcap limit (in usecs)"},
          {{"cpu-idle"}, true, "set cgroup SCHED_IDLE or not, 0: default behavior, 1: SCHED_IDLE"},
          {{"cpuset-cpus"}, true, "CPU(s) to use"},
          {{"cpuset-mems"}, true, "memory node(s) to use"},
          {{"kernel-memory"}, true, "kernel memory limit (ignored)"},
          {{"kernel-memory-tcp"}, true, "kernel memory limit for tcp buffer (ignored)"},
          {{"memory"}, true, "memory limit (in bytes; k, m, g suffixes)"},
          {{"memory-reservation"}, true, "memory reservation or soft_limit (in bytes)"},
          {{"memory-swap"}, true, "total memory usage (memory + swap); set '-1' to enable unlimited swap"},
          {{"pids-limit"}, true, "maximum number of pids allowed in the container"},
          {{"l3-cache-schema"}, true, "the string of Intel RDT/CAT L3 cache schema"},
          {{"mem-bw-schema"}, true, "the string of Intel RDT/MBA memory bandwidth schema"}},
         cmd_update},
        {"events", "<container-id>", "display container events such as OOM notifications, cpu, memory, and IO usage statistics",
         {{{"interval"}, true, "set the stats collection interval (default: 5s)"},
          {{"stats"}, false, "display the container's stats then exit"}},
         cmd_events},
    };
}

}  // namespace skiff::cli
