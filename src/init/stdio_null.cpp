// Stdio that is the host's /dev/null (conmon and containerd hand the runtime one) becomes the
// container's own /dev/null, as runc's init does: an fd on a mount outside the container is
// one CRIU cannot dump ("Can't lookup mount=N for fd=0 path=/dev/null").
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "init/steps.hpp"
#include "base/error.hpp"

namespace skiff::init {
namespace {

bool is_null_device(const struct stat& st) { return S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3); }

}  // namespace

void reopen_stdio_dev_null() {
    // Every null device, as runc: st_dev cannot tell the host's mount from a bind of it.
    // Looked at first, so the usual start (pipes, fifos, a pty) opens nothing.
    bool is_null[3] = {};
    bool any = false;
    struct stat st;
    for (int fd = 0; fd < 3; ++fd) {
        is_null[fd] = ::fstat(fd, &st) == 0 && is_null_device(st);
        any |= is_null[fd];
    }
    if (!any) return;
    int raw = ::open("/dev/null", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (raw < 0) return;  // a container without /dev/null keeps what it was given
    Fd null_fd(raw);
    // Only the null device itself: the image cannot make us hand out another file.
    if (::fstat(null_fd.get(), &st) < 0 || !is_null_device(st)) return;
    for (int fd = 0; fd < 3; ++fd)
        if (is_null[fd] && ::dup3(null_fd.get(), fd, 0) < 0)
            throw_errno("reopen /dev/null as fd " + std::to_string(fd));
}

}  // namespace skiff::init
