#include "init/locked_flags.hpp"

#include <sys/statfs.h>
#include <sys/statvfs.h>

#include "linux/syscalls.hpp"
#include "base/text.hpp"

namespace skiff::init {
namespace {

bool in_initial_user_ns() {
    static int cached = -1;
    if (cached < 0) {
        std::string map;
        try {
            map = text::read_file("/proc/self/uid_map");
        } catch (...) {
        }
        auto f = text::fields(map);
        cached = f.size() == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295";
    }
    return cached == 1;
}

}  // namespace

void keep_locked_flags(int tree, uint64_t& set, uint64_t& clr) {
    if ((!set && !clr) || in_initial_user_ns()) return;
    struct statfs sf;
    if (::fstatfs(tree, &sf) < 0) return;  // the mount_setattr that follows will say why
    const uint64_t has = ((sf.f_flags & ST_RDONLY) ? MOUNT_ATTR_RDONLY : 0) |
                         ((sf.f_flags & ST_NOSUID) ? MOUNT_ATTR_NOSUID : 0) |
                         ((sf.f_flags & ST_NODEV) ? MOUNT_ATTR_NODEV : 0) |
                         ((sf.f_flags & ST_NOEXEC) ? MOUNT_ATTR_NOEXEC : 0);
    clr &= ~has;
    // The atime mode (and nodiratime) stays the source's: any change of it is refused.
    const uint64_t atime = MOUNT_ATTR__ATIME | MOUNT_ATTR_NODIRATIME;
    set &= ~atime;
    clr &= ~atime;
}

}  // namespace skiff::init
