// The `features` document (runtime-spec features.md / features-linux.md, v1.3).
#pragma once
#include <string>

namespace skiff {

// skiff's own version, reported in the features annotations (and by --version).
const char* version();

// The whole features document as pretty JSON. The seccomp part lists what this build's
// libseccomp and the running kernel really support (flags are probed, not assumed).
std::string features_json();

}  // namespace skiff
