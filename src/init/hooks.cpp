// Hooks, for the runtime and the init alike. cwd: runc runs create's and run's hooks in the
// bundle (it changes to it first), start's and delete's where it was started, and the
// container-side ones in the rootfs (the init changes there first).
#include "init/hooks.hpp"

#include "base/error.hpp"
#include "linux/log.hpp"
#include "linux/program.hpp"

namespace skiff::init {
namespace {

std::string run_one(const oci::Hook& h, const std::string& state, const char* kind, size_t i,
                    const std::string& cwd) {
    auto r = program::run_and_wait(h.path, h.args, h.env, state, h.timeout.value_or(0), cwd);
    // "error running hook" is runc's phrase for this failure, which callers match on
    std::string where =
        std::string(kind) + " hook #" + std::to_string(i) + " (" + h.path + "): error running hook";
    if (r.timed_out) return where + ": timed out after " + std::to_string(*h.timeout) + "s";
    if (r.status != 0)
        return where + ": " + program::describe_status(r.status) +
               (r.output.empty() ? "" : ", output: " + r.output);
    return {};
}

}  // namespace

void run_hooks(const std::vector<oci::Hook>& hooks, const std::string& state, const char* kind,
               const std::string& cwd) {
    for (size_t i = 0; i < hooks.size(); ++i) {
        std::string failure = run_one(hooks[i], state, kind, i, cwd);
        if (!failure.empty()) throw Error(failure, ECANCELED);
    }
}

void run_hooks_warn(const std::vector<oci::Hook>& hooks, const std::string& state, const char* kind,
                    const std::string& cwd) {
    for (size_t i = 0; i < hooks.size(); ++i) {
        std::string failure;
        try {
            failure = run_one(hooks[i], state, kind, i, cwd);
        } catch (const Error& e) {
            failure = std::string(kind) + " hook #" + std::to_string(i) + ": " + e.what();
        }
        if (!failure.empty()) log::warn(failure);
    }
}

}  // namespace skiff::init
