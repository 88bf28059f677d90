// How big the guest is, and the QEMU options that size it: RAM from the memory limit, vCPUs
// from the CPU quota, TCG's translation cache. The host cgroup keeps the limits themselves:
// QEMU and virtiofsd run in it, so what the VM costs beyond its RAM is charged there too.
#pragma once
#include <string>
#include <vector>

#include "oci/spec.hpp"

namespace skiff::vm {

// Guest RAM = memory limit - kOverheadMiB (what QEMU and virtiofsd take beyond the guest's
// RAM), at least kMinGuestMiB; without a limit kDefaultGuestMiB.
inline constexpr long long kOverheadMiB = 32;
inline constexpr long long kMinGuestMiB = 64;
inline constexpr long long kDefaultGuestMiB = 256;
// TCG's translation cache (MiB): QEMU's default grows to ~100 MiB of RSS in a boot.
inline constexpr int kTcgTbSizeMiB = 16;
// The guest's reset without ACPI (nor a PS/2 controller): a triple fault, which QEMU's
// -no-reboot turns into its exit. For the kernel's command line.
inline constexpr const char* kGuestReboot = "reboot=t";

struct GuestSize {
    long long memory_mib;
    int vcpus;
};

// vCPUs = ceil(quota / period), at most the host's CPUs (those we may run on); 1 without a quota.
GuestSize guest_size(const oci::Spec& spec);

// -m, -smp and the guest RAM's backend: a shared memfd (vhost-user virtiofsd maps it).
std::vector<std::string> qemu_size_args(const GuestSize& size);
// -machine: q35 without the on-board devices a guest of skiff's never uses (SATA, SMBus,
// vmport, the PS/2 controller) and without ACPI (its table blob takes a 2 MiB huge page of
// host memory per VM; the guest finds its CPUs in the MP table and resets instead of powering
// off, see kGuestReboot), its RAM from the backend qemu_size_args makes.
std::vector<std::string> qemu_machine_args();
// The kernel file QEMU boots, in `kernel_dir` (the host's): vmlinux when scripts/vm-kernel.sh
// extracted it (a PVH boot: QEMU maps the ELF, page cache shared by every VM, where a bzImage
// is copied into each QEMU; and no decompression in the guest), else vmlinuz.
std::string boot_kernel_name(const std::string& kernel_dir);
// -accel and -cpu: KVM with the host's CPU, or TCG with a bounded translation cache.
std::vector<std::string> qemu_accel_args(bool kvm);

}  // namespace skiff::vm
