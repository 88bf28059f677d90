// The `features` document (runtime-spec features.md / features-linux.md, v1.3).
#pragma once
#include <string>

namespace skiff {

// The runtime-spec version skiff implements (ociVersionMax, `skiff --version`).
inline constexpr const char* kSpecVersion = "1.3.0";

// skiff's own version (CMakeLists.txt's project version), reported in the features
// annotations and by --version.
const char* version();

// The commit the binary was built from ("" when the build did not know it).
const char* commit();

// The version of the libseccomp linked into this binary, e.g. "2.5.4".
std::string libseccomp_version();

// The whole features document as pretty JSON. The seccomp part lists what this build's
// libseccomp and the running kernel really support (flags are probed, not assumed).
std::string features_json();

}  // namespace skiff
