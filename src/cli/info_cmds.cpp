// spec and features: documents that need no container.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "cli/cli.hpp"
#include "container/features.hpp"
#include "base/error.hpp"
#include "oci/default_spec.hpp"

namespace skiff::cli {
namespace {

int cmd_spec(const container::Globals& g, const Args& a) {
    std::string bundle = a.value("bundle", ".");
    std::string path = bundle + "/config.json";
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) throw Error("File " + path + " exists. Remove it first", EEXIST);
    std::string text = oci::default_config_json(a.flag("rootless"));
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) throw_errno("create " + path);
    bool ok = ::write(fd, text.data(), text.size()) == ssize_t(text.size());
    ::close(fd);
    if (!ok) throw_errno("write " + path);
    return 0;
}

int cmd_features(const container::Globals&, const Args&) {
    std::string doc = features_json();
    printf("%s\n", doc.c_str());
    return 0;
}

}  // namespace

// runc's layout (its "go:" line has no counterpart here).
std::string version_text() {
    std::string s = std::string("skiff version ") + version() + "\n";
    if (*commit()) s += std::string("commit: ") + commit() + "\n";
    s += std::string("spec: ") + kSpecVersion + "\n";
    s += "libseccomp: " + libseccomp_version() + "\n";
    return s;
}

const std::vector<Command>& info_commands() {
    static const std::vector<Command> commands = {
        {"spec", "", "create a new specification file",
         {{{"bundle", "b"}, true, "path to the root of the bundle directory"},
          {{"rootless"}, false, "generate a configuration for a rootless container"}},
         cmd_spec, 0},
        {"features", "", "show the enabled features", {}, cmd_features, 0},
    };
    return commands;
}

}  // namespace skiff::cli
