#include "linux/caps.hpp"

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>

#include "base/error.hpp"

namespace skiff::caps {

const std::vector<std::string>& all_names() {
    static const std::vector<std::string> names = {
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
        "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
        "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
        "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"};
    return names;
}

int last_cap() {
    static int cached = -1;
    if (cached >= 0) return cached;
    cached = int(all_names().size()) - 1;
    int fd = ::open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char buf[16] = {};
        if (::read(fd, buf, sizeof buf - 1) > 0) cached = std::atoi(buf);
        ::close(fd);
    }
    return cached;
}

int from_name(const std::string& name) {
    const auto& names = all_names();
    for (size_t i = 0; i < names.size(); ++i)
        if (names[i] == name) return int(i);
    return -1;
}

uint64_t mask_of(const std::vector<std::string>& names, std::vector<std::string>* unknown) {
    uint64_t mask = 0;
    int last = last_cap();
    for (const auto& n : names) {
        int c = from_name(n);
        if (c < 0 || c > last) {
            if (unknown) unknown->push_back(n);
            continue;
        }
        mask |= uint64_t(1) << c;
    }
    return mask;
}

void drop_bounding(const Sets& sets) {
    if (!sets.bounding) return;
    int last = last_cap();
    for (int c = 0; c <= last; ++c) {
        if (*sets.bounding & (uint64_t(1) << c)) continue;
        if (::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
            throw_errno("drop capability " + all_names()[c] + " from the bounding set");
    }
}

void apply(const Sets& sets) {
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2] = {};
    data[0].effective = uint32_t(sets.effective);
    data[1].effective = uint32_t(sets.effective >> 32);
    data[0].permitted = uint32_t(sets.permitted);
    data[1].permitted = uint32_t(sets.permitted >> 32);
    data[0].inheritable = uint32_t(sets.inheritable);
    data[1].inheritable = uint32_t(sets.inheritable >> 32);
    if (::syscall(SYS_capset, &header, data) < 0) throw_errno("capset");
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        throw_errno("clear ambient capabilities");
    int last = last_cap();
    for (int c = 0; c <= last; ++c) {
        if (!(sets.ambient & (uint64_t(1) << c))) continue;
        // The kernel refuses an ambient cap that is not permitted and inheritable; runc
        // treats that as a warning-free skip, and so do we.
        if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0 && errno != EPERM &&
            errno != EINVAL)
            throw_errno("raise ambient capability " + all_names()[c]);
    }
}

}  // namespace skiff::caps
