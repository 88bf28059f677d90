#include "linux/netif.hpp"

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>

#include "base/error.hpp"
#include "linux/fd.hpp"

namespace skiff::netif {

void set_up(const char* name) {
    // Any socket reaches the device ioctls; a datagram one is the cheapest to make.
    Fd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!sock) throw_errno(std::string("socket for bringing ") + name + " up");
    struct ifreq req;
    std::memset(&req, 0, sizeof req);
    std::strncpy(req.ifr_name, name, IFNAMSIZ - 1);
    if (::ioctl(sock.get(), SIOCGIFFLAGS, &req) < 0) throw_errno(std::string("read the flags of ") + name);
    if (req.ifr_flags & IFF_UP) return;
    req.ifr_flags = short(req.ifr_flags | IFF_UP);
    if (::ioctl(sock.get(), SIOCSIFFLAGS, &req) < 0) throw_errno(std::string("bring ") + name + " up");
}

}  // namespace skiff::netif
