// cgroup v2 has no devices.allow: access is decided by a BPF_PROG_TYPE_CGROUP_DEVICE program
// attached to the cgroup. skiff emits it with raw bpf(2) instructions (no libbpf).
#pragma once
#include <linux/bpf.h>

#include <vector>

#include "oci/spec.hpp"

namespace skiff::cgroups::bpf {

// The program for rules in the spec's order. The last rule that matches a request decides
// (v1's semantics: later rules override earlier ones); nothing matching means deny.
std::vector<bpf_insn> device_program(const std::vector<oci::DeviceRule>& rules);

// Loads the program and attaches it to the cgroup directory dir_fd (BPF_F_ALLOW_MULTI), then
// detaches the programs that were there before, so an update never leaves a gap.
void attach_device_program(int dir_fd, const std::vector<bpf_insn>& program);

// What the program decides for one access (BPF_DEVCG_DEV_* type, BPF_DEVCG_ACC_* mask): an
// interpreter of the emitted subset, for unit tests without a kernel.
bool evaluate(const std::vector<bpf_insn>& program, uint32_t type, uint32_t access,
              uint32_t major, uint32_t minor);

}  // namespace skiff::cgroups::bpf
