#include "init/process_attrs.hpp"

#include <sched.h>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>

#include "base/cpulist.hpp"
#include "base/error.hpp"

namespace skiff::init {
namespace {

// <linux/mempolicy.h>, which glibc does not ship.
struct Named {
    const char* name;
    int value;
};
constexpr Named kMpolModes[] = {
    {"MPOL_DEFAULT", 0}, {"MPOL_PREFERRED", 1},      {"MPOL_BIND", 2},
    {"MPOL_INTERLEAVE", 3}, {"MPOL_LOCAL", 4},       {"MPOL_PREFERRED_MANY", 5},
    {"MPOL_WEIGHTED_INTERLEAVE", 6},
};
constexpr Named kMpolFlags[] = {
    {"MPOL_F_STATIC_NODES", 1 << 15},
    {"MPOL_F_RELATIVE_NODES", 1 << 14},
    {"MPOL_F_NUMA_BALANCING", 1 << 13},
};

int lookup(const Named* table, size_t n, const std::string& name, const std::string& field) {
    for (size_t i = 0; i < n; ++i)
        if (name == table[i].name) return table[i].value;
    throw Error(field + ": unknown value \"" + name + "\"", EINVAL);
}

constexpr unsigned kMaxNodes = 1024;
constexpr unsigned kMaxCpus = 8192;

void set_affinity(const std::string& list, const char* field) {
    auto mask = cpulist::parse(list, kMaxCpus);
    if (!mask) throw Error(std::string(field) + ": invalid cpu list \"" + list + "\"", EINVAL);
    if (::sched_setaffinity(0, mask->size() * sizeof(unsigned long),
                            reinterpret_cast<cpu_set_t*>(mask->data())) < 0)
        throw_errno(std::string(field) + ": sched_setaffinity " + list);
}

}  // namespace

std::vector<std::string> memory_policy_modes() {
    std::vector<std::string> out;
    for (const auto& m : kMpolModes) out.push_back(m.name);
    return out;
}

std::vector<std::string> memory_policy_flags() {
    std::vector<std::string> out;
    for (const auto& f : kMpolFlags) out.push_back(f.name);
    return out;
}

void apply_memory_policy(const oci::Spec& spec) {
    if (!spec.linux || !spec.linux->memory_policy) return;
    const auto& mp = *spec.linux->memory_policy;
    int mode = lookup(kMpolModes, std::size(kMpolModes), mp.mode, "linux.memoryPolicy.mode");
    for (const auto& f : mp.flags) mode |= lookup(kMpolFlags, std::size(kMpolFlags), f, "linux.memoryPolicy.flags");
    auto nodes = cpulist::parse(mp.nodes, kMaxNodes);
    if (!nodes) throw Error("linux.memoryPolicy.nodes: invalid node list \"" + mp.nodes + "\"", EINVAL);
    // maxnode counts bits, and the kernel reads one fewer than it is given.
    const unsigned long maxnode = mp.nodes.empty() ? 0 : kMaxNodes + 1;
    if (::syscall(SYS_set_mempolicy, mode, mp.nodes.empty() ? nullptr : nodes->data(), maxnode) < 0)
        throw_errno("linux.memoryPolicy: set_mempolicy");
}

void apply_personality(const oci::Spec& spec) {
    if (!spec.linux || !spec.linux->personality) return;
    const auto& p = *spec.linux->personality;
    unsigned long persona = p.domain == "LINUX32" ? PER_LINUX32 : PER_LINUX;
    if (::personality(persona) < 0) throw_errno("linux.personality");
}

void apply_initial_cpu_affinity(const oci::Process& proc) {
    if (proc.exec_cpu_affinity && !proc.exec_cpu_affinity->initial.empty())
        set_affinity(proc.exec_cpu_affinity->initial, "process.execCPUAffinity.initial");
}

void apply_final_cpu_affinity(const oci::Process& proc) {
    if (!proc.exec_cpu_affinity) return;
    const auto& a = *proc.exec_cpu_affinity;
    if (!a.final_.empty()) {
        set_affinity(a.final_, "process.execCPUAffinity.final");
    } else if (!a.initial.empty()) {
        cpulist::Mask all(kMaxCpus / (sizeof(unsigned long) * CHAR_BIT), ~0UL);
        ::sched_setaffinity(0, all.size() * sizeof(unsigned long), reinterpret_cast<cpu_set_t*>(all.data()));
    }
}

}  // namespace skiff::init
