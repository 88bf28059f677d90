// Where VM isolation finds its pieces on the host, and keeps its per-container files.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace skiff::vm {

inline constexpr const char* kVirtiofsd = "/usr/lib/qemu/virtiofsd";
// Where QEMU, in the host side's own small root, finds the kernel and the VM's directory.
inline constexpr const char* kGuestKernelDir = "/vm/kernel";
inline constexpr const char* kGuestVmDir = "/vm/run";

// The top-level entries of the host's root that programs load from (bin, lib, lib64, ...):
// (name, true) for a symlink (merged /usr: copied into QEMU's root), (name, false) for a
// directory (bound read-only).
std::vector<std::pair<std::string, bool>> host_root_links();

// $SKIFF_VM_QEMU, else /usr/bin/qemu-system-x86_64.
std::string qemu_binary();
// $SKIFF_VM_DIR, else /var/lib/skiff/vm: vmlinuz (scripts/vm-kernel.sh installs it) and
// the cached base initramfs.
std::string kernel_dir();
// <state root>/<id>:vm (':' is never in an id, so the state store skips it).
inline std::string vm_dir(const std::string& root, const std::string& id) { return root + "/" + id + ":vm"; }

// The base initramfs (this binary as /init), built once per binary, gzip'd (when the host has
// gzip) and cached in `dir`; returns its path.
std::string base_initramfs(const std::string& dir);
// A newc archive (no trailer) of the given files: (name, mode, contents).
struct CpioEntry {
    std::string name;
    unsigned mode;  // with the file type bits
    std::string data;
};
std::string cpio(const std::vector<CpioEntry>& entries, bool trailer);

}  // namespace skiff::vm
