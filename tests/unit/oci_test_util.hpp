// Shared helpers for the oci_* unit tests.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace skiff::oci::testing {

// A small valid config.json that the invalid-case table mutates one field at a time.
inline nlohmann::json base_config() {
    return nlohmann::json::parse(R"({
      "ociVersion": "1.3.0",
      "root": {"path": "rootfs", "readonly": true},
      "hostname": "box",
      "process": {
        "terminal": false,
        "user": {"uid": 0, "gid": 0, "additionalGids": [1, 2]},
        "args": ["sh", "-c", "true"],
        "env": ["PATH=/bin", "TERM=xterm"],
        "cwd": "/",
        "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"]},
        "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024},
                    {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]
      },
      "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]}
      ],
      "linux": {
        "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                       {"type": "uts"}, {"type": "mount"}],
        "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229},
                    {"path": "/dev/sda", "type": "b", "major": 8, "minor": 0}],
        "resources": {"devices": [{"allow": false, "access": "rwm"}]}
      }
    })");
}

}  // namespace skiff::oci::testing
