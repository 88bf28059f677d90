// The guest's size from the config's resources (sizing.hpp).
#include "vm/sizing.hpp"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

namespace skiff::vm {
namespace {

int host_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
    return 1;
}

}  // namespace

GuestSize guest_size(const oci::Spec& spec) {
    GuestSize s{kDefaultGuestMiB, 1};
    const auto& r = spec.linux ? spec.linux->resources : std::nullopt;
    if (!r) return s;
    if (r->memory && r->memory->limit && *r->memory->limit > 0)
        s.memory_mib = std::max(kMinGuestMiB, *r->memory->limit / (1024 * 1024) - kOverheadMiB);
    if (r->cpu && r->cpu->quota && *r->cpu->quota > 0) {
        long long period = r->cpu->period && *r->cpu->period > 0 ? (long long)*r->cpu->period : 100000;
        long long n = (*r->cpu->quota + period - 1) / period;
        s.vcpus = int(std::clamp<long long>(n, 1, host_cpus()));
    }
    return s;
}

std::vector<std::string> qemu_size_args(const GuestSize& size) {
    std::string mem = std::to_string(size.memory_mib) + "M";
    return {"-m", mem, "-smp", std::to_string(size.vcpus), "-object",
            "memory-backend-memfd,id=mem,size=" + mem + ",share=on"};
}

std::vector<std::string> qemu_machine_args() {
    return {"-machine", "q35,memory-backend=mem,sata=off,smbus=off,vmport=off,i8042=off,acpi=off"};
}

std::string boot_kernel_name(const std::string& kernel_dir) {
    return ::access((kernel_dir + "/vmlinux").c_str(), R_OK) == 0 ? "vmlinux" : "vmlinuz";
}

std::vector<std::string> qemu_accel_args(bool kvm) {
    if (kvm) return {"-accel", "kvm", "-cpu", "host"};
    const char* tb = ::getenv("SKIFF_VM_TB_SIZE");  // MiB, for bench/vm.sh's comparisons
    int mib = tb && std::atoi(tb) > 0 ? std::atoi(tb) : kTcgTbSizeMiB;
    return {"-accel", "tcg,thread=multi,tb-size=" + std::to_string(mib), "-cpu", "max"};
}

}  // namespace skiff::vm
