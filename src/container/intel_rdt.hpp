// linux.intelRdt and `update --l3-cache-schema/--mem-bw-schema`: the container's resctrl
// group (its CLOS), as runtime-spec 1.3 describes it and runc does it. The resctrl root is a
// parameter, so the logic runs against a temp dir in the unit tests.
#pragma once
#include <sys/types.h>

#include <string>

#include "oci/spec.hpp"

namespace skiff::container {

// Where the resctrl filesystem is mounted, from /proc/self/mountinfo; "" when it is not.
std::string resctrl_mount();

class IntelRdt {
public:
    // `root`: the resctrl mount; `id`: the container's id (the group's name without closID).
    IntelRdt(std::string root, const oci::IntelRdt& config, std::string id);

    // Everything that can be checked before anything is made: resctrl mounted, CAT for
    // l3CacheSchema, MBA for memBwSchema, an existing closID when it names a pre-made group.
    // Errors name the field (linux.intelRdt...).
    void validate() const;
    // Makes or joins the group, writes the schemata, adds `pid` to its tasks (and to a
    // monitoring group with enableMonitoring). Undoes what it made when it fails.
    void apply(pid_t pid);
    // Removes what this container owns: its monitoring group, and the group named after it
    // (a closID group is shared and stays). Quiet when they are already gone.
    void remove() const;
    // `update`: new L3 and/or MB lines for the container's group.
    void update(const std::string& l3_cache_schema, const std::string& mem_bw_schema) const;

    std::string group_dir() const;

private:
    std::string mon_dir() const;
    void write_schemata(const std::string& text) const;
    std::string root_, id_;
    oci::IntelRdt config_;
    bool made_group_ = false;
};

// create: the group for the init `pid` when linux.intelRdt is set (check()
// runs in prepare, before anything exists). delete: removal from the saved config.
void check_intel_rdt(const oci::Spec& spec, const std::string& id);
void apply_intel_rdt(const oci::Spec& spec, const std::string& id, pid_t pid);
void remove_intel_rdt(const std::string& config, const std::string& id);
// update --l3-cache-schema / --mem-bw-schema for a container created from `config`.
void update_intel_rdt(const std::string& config, const std::string& id, const std::string& l3,
                      const std::string& mb);
struct Globals;
// `update ID --l3-cache-schema/--mem-bw-schema`: the same for a container under g.root.
void update_intel_rdt(const Globals& g, const std::string& id, const std::string& l3, const std::string& mb);

}  // namespace skiff::container
