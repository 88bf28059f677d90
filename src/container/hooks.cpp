// Hooks that the runtime itself runs (prestart, createRuntime, poststart, poststop); the
// container-side ones run in the init.
#include "container/internal.hpp"
#include "linux/error.hpp"
#include "linux/log.hpp"
#include "linux/program.hpp"

namespace skiff::container {
namespace {

std::string run_one(const oci::Hook& h, const std::string& state, const char* kind, size_t i) {
    auto r = program::run(h.path, h.args, h.env, state, h.timeout.value_or(0));
    std::string where = std::string(kind) + " hook #" + std::to_string(i) + " (" + h.path + ")";
    if (r.timed_out) return where + ": timed out after " + std::to_string(*h.timeout) + "s";
    if (r.status != 0)
        return where + ": " + program::describe_status(r.status) +
               (r.output.empty() ? "" : ", output: " + r.output);
    return {};
}

}  // namespace

void run_hooks(const std::vector<oci::Hook>& hooks, const std::string& state, const char* kind) {
    for (size_t i = 0; i < hooks.size(); ++i) {
        std::string failure = run_one(hooks[i], state, kind, i);
        if (!failure.empty()) throw Error(failure, ECANCELED);
    }
}

void run_hooks_warn(const std::vector<oci::Hook>& hooks, const std::string& state, const char* kind) {
    for (size_t i = 0; i < hooks.size(); ++i) {
        std::string failure;
        try {
            failure = run_one(hooks[i], state, kind, i);
        } catch (const Error& e) {
            failure = std::string(kind) + " hook #" + std::to_string(i) + ": " + e.what();
        }
        if (!failure.empty()) log::warn(failure);
    }
}

}  // namespace skiff::container
