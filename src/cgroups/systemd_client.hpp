// The pipe to skiff-systemd, the dynamically linked companion that speaks sd-bus for the
// static runtime (src/systemd-helper/skiff_systemd.c has the protocol).
#pragma once
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "cgroups/systemd_props.hpp"

namespace skiff::cgroups::systemd {

// true when systemd runs this host (sd_booted(3): /run/systemd/system is a directory).
bool host_runs_systemd();

// Where the companion is: $SKIFF_SYSTEMD_HELPER, else beside the skiff binary that was
// invoked (argv[0], searched in $PATH when it has no '/'), else /usr/libexec/skiff/.
std::string companion_path();

class Companion {
public:
    // Starts `skiff-systemd verb unit`, which connects to the bus at once. Throws when it
    // cannot start.
    Companion(const std::string& verb, const std::string& unit);
    // `skiff-systemd start -`: the unit is named later, with name_unit().
    Companion();
    // One already running, handed over by the process this one exec'd from.
    Companion(pid_t pid, int to, int from) : verb_("start"), unit_("-"), pid_(pid), to_(to), from_(from) {}
    Companion(const Companion&) = delete;
    Companion& operator=(const Companion&) = delete;
    ~Companion();

    // For a companion started without its unit: the first line it reads.
    void name_unit(const std::string& unit);
    void send(const Property& p);
    // Sends the closing line ("PID <n>", "END", or nothing), waits for the answer and reaps
    // the companion. Throws Error(<its message>) on "ERR ...".
    void finish(const std::string& last_line);
    // Kills and reaps it, if it still runs (a create that failed before the unit started).
    void abandon();
    bool running() const { return pid_ > 0; }
    // Readies it to survive an exec of this process (systemd_prestart.cpp); false when it
    // cannot (it is then ended).
    bool hand_over();
    // Undoes hand_over() when the exec did not happen (the runtime already ran sealed).
    void hand_back();

private:
    void spawn();
    void write_line(const std::string& line);
    std::string verb_, unit_;
    pid_t pid_ = -1;
    int to_ = -1;
    int from_ = -1;
};

// prestart_companion() starts `skiff-systemd start -` early (cgroups::prestart); the driver's
// create() takes it (nullptr when none was started or it could not start). One per process.
void prestart_companion();
// Earlier still, in main() before the read-only re-exec of `create`/`run --systemd-cgroup`:
// starts it there and hands it across the exec (systemd_prestart.cpp), so that its loading
// (libsystemd and its libraries: most of its cost) overlaps with the runtime's own re-exec.
void prestart_across_exec(int argc, char** argv);
std::unique_ptr<Companion> take_prestarted_companion();

// One-shot requests: set properties, stop + reset the unit.
void set_properties(const std::string& unit, const std::vector<Property>& props);
// if_idle: job mode "fail" (a parent slice found empty: not if a job in it is queued).
void stop_unit(const std::string& unit, bool if_idle = false);

}  // namespace skiff::cgroups::systemd
