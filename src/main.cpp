#include "cgroups/systemd_client.hpp"
#include "cli/cli.hpp"
#include "linux/sealed_exe.hpp"
#include "vm/pod_vm.hpp"
#include "vm/terminal_watch.hpp"
#include "vm/vm.hpp"

#include <cstdlib>

#ifdef SKIFF_EMPTY_FRAME_REGISTRY
// See CMakeLists.txt: the linker routes crtbeginT.o's calls here, so the unwinder finds FDEs
// through the binary's .eh_frame_hdr instead of a registry it would sort on the first throw.
extern "C" void __wrap___register_frame_info(const void*, void*) {}
extern "C" void* __wrap___deregister_frame_info(const void*) { return nullptr; }
#endif

int main(int argc, char** argv) {
    if (skiff::vm::is_guest_init(argc, argv)) skiff::vm::agent_main();  // the guest's PID 1
    if (::getenv("SKIFF_VM_POD_RELAY")) skiff::vm::pod_relay_main();     // an app container of a pod VM
    if (skiff::vm::is_terminal_watch(argc, argv)) skiff::vm::terminal_watch_main(argc, argv);  // QEMU, behind a VM terminal's size watcher
    skiff::vm::set_invoked_as(argv[0]);
    // The systemd driver's companion loads while this process re-executes itself.
    skiff::cgroups::systemd::prestart_across_exec(argc, argv);
    skiff::sealed_exe::ensure(argc, argv);
    return skiff::cli::main(argc, argv);
}
