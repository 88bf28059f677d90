// OCI mount options ("ro", "nosuid", "rbind", "rprivate", "rro", "mode=755", ...) turned into
// what the kernel takes: mount(2) flags, propagation, mount_setattr attributes, fs data.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace skiff::init {

struct MountOptions {
    unsigned long flags = 0;        // MS_RDONLY, MS_NOSUID, ... (set)
    unsigned long propagation = 0;  // MS_SHARED / MS_SLAVE / MS_PRIVATE / MS_UNBINDABLE (| MS_REC)
    bool bind = false;
    bool recursive = false;         // rbind
    uint64_t attr_set = 0;          // MOUNT_ATTR_* applied recursively (rro, rnosuid, ...)
    uint64_t attr_clr = 0;
    bool idmap = false, ridmap = false;
    bool tmpcopyup = false;
    std::string data;               // everything the kernel does not know as a flag
};

// Unknown options go to data, as runc does (the filesystem decides).
MountOptions parse_mount_options(const std::vector<std::string>& options);

// Every option name parse_mount_options understands (for `features`).
std::vector<std::string> known_mount_options();

// The MOUNT_ATTR_* a bind's plain flags (ro, nosuid, noatime, ...) set and clear on the top
// mount of the cloned tree; the recursive forms stay in attr_set / attr_clr.
struct TopAttrs {
    uint64_t set = 0;
    uint64_t clr = 0;
};
TopAttrs bind_top_attrs(const MountOptions& o);

// MountOptions::data split for fsconfig(2): "mode=755,size=1m,huge" ->
// {{"mode","755"},{"size","1m"},{"huge",""}} (empty value: a flag). Empty items are dropped.
std::vector<std::pair<std::string, std::string>> split_fs_data(const std::string& data);

}  // namespace skiff::init
