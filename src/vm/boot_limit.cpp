// The guest's boot time limit (boot_limit.hpp).
#include "vm/boot_limit.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "base/error.hpp"
#include "base/text.hpp"
#include "linux/fd.hpp"

namespace skiff::vm {
namespace {

constexpr double kDefault = 120;

// A positive, finite number of seconds, else 0.
double seconds(const std::string& text) {
    if (text.empty()) return 0;
    char* end = nullptr;
    errno = 0;
    double v = std::strtod(text.c_str(), &end);
    if (errno || !end || *end || !std::isfinite(v) || v <= 0 || v > 86400) return 0;
    return v;
}

}  // namespace

double configured_boot_limit(const oci::Spec& spec) {
    auto it = spec.annotations.find(kBootTimeoutAnnotation);
    if (it == spec.annotations.end()) return 0;
    double v = seconds(it->second);
    if (v <= 0)
        throw Error(std::string("annotations.") + kBootTimeoutAnnotation + ": \"" + it->second +
                        "\" is not a number of seconds (more than 0, at most 86400)",
                    EINVAL);
    return v;
}

void record_boot_limit(const std::string& vm_dir, double limit) {
    if (limit <= 0) return;
    std::string path = vm_dir + "/boot-timeout", text = std::to_string(limit);
    Fd f(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!f || ::write(f.get(), text.data(), text.size()) != ssize_t(text.size())) throw_errno("write " + path);
}

double boot_limit(const std::string& vm_dir, std::string* source) {
    if (double v = seconds(text::read_file_or_empty(vm_dir + "/boot-timeout"))) {
        if (source) *source = std::string("annotation ") + kBootTimeoutAnnotation;
        return v;
    }
    const char* env = ::getenv("SKIFF_VM_BOOT_TIMEOUT");
    if (double v = seconds(env ? env : "")) {
        if (source) *source = "SKIFF_VM_BOOT_TIMEOUT";
        return v;
    }
    if (source) *source = "the default; set " + std::string(kBootTimeoutAnnotation) + " or SKIFF_VM_BOOT_TIMEOUT";
    return kDefault;
}

}  // namespace skiff::vm
