// The one hook runner. The init runs the container-side hooks (createContainer,
// startContainer); the runtime the rest (prestart, createRuntime, poststart, poststop).
#pragma once
#include <string>
#include <vector>

#include "oci/spec.hpp"

namespace skiff::init {

// Runs hooks in order, each with `state` on stdin and in `cwd` (empty: where we are); the
// first failure throws, naming the hook kind, its index and path.
void run_hooks(const std::vector<oci::Hook>& hooks, const std::string& state, const char* kind,
               const std::string& cwd = "");
// Same, but failures only warn (poststart, poststop).
void run_hooks_warn(const std::vector<oci::Hook>& hooks, const std::string& state, const char* kind,
                    const std::string& cwd = "");

}  // namespace skiff::init
