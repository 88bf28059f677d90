// A pod's network namespace after one of its VMs ended (pod.hpp): the tap the VM used stays
// until that container is deleted, but a container that exited no longer takes the interface,
// so the pod's next container (after an init container) may.
#include <dirent.h>
#include <sys/stat.h>

#include <cstdlib>
#include <cstring>

#include "base/text.hpp"
#include "vm/paths.hpp"
#include "vm/pod.hpp"
#include "vm/vm.hpp"

namespace skiff::vm {
namespace {

bool same_file(const std::string& a, const std::string& b) {
    struct stat sa, sb;
    return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

}  // namespace

bool tap_left_by_ended_vm(const std::string& netns, int tap_index, const std::string& state_root) {
    DIR* d = ::opendir(state_root.c_str());
    if (!d) return false;
    bool ended = false;
    const std::string suffix = ":vm";
    while (struct dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
            continue;
        // <vm dir>/net: the namespace, then "<interface> <tap> <tap's index>" a line
        // (connect_network).
        auto rec = text::read_file_or_empty(state_root + "/" + name + "/net");
        auto parts = text::lines(rec);
        bool has_tap = false;
        for (size_t i = 1; i < parts.size(); ++i) {
            auto f = text::fields(parts[i]);
            has_tap = has_tap || (f.size() > 2 && std::atoi(std::string(f[2]).c_str()) == tap_index);
        }
        if (!has_tap || parts.empty() || !same_file(std::string(parts[0]), netns)) continue;
        // The VM lives from create (virtiofsd waits for QEMU) until QEMU ends, and virtiofsd
        // with it: its vhost-user connection closes.
        ended = helper_pids(state_root, name.substr(0, name.size() - suffix.size())).empty();
        break;
    }
    ::closedir(d);
    return ended;
}

}  // namespace skiff::vm
