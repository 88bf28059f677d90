// Network interface flags through the classic ioctl interface (no netlink needed for this).
#pragma once

namespace skiff::netif {

// Sets IFF_UP on the interface `name` in the calling process's network namespace.
// Throws Error on failure.
void set_up(const char* name);

}  // namespace skiff::netif
