// One error type for the whole runtime: a message with a chain of context and, when a
// syscall failed, its errno. The top level prints it once: "create abc: mount proc: EPERM".
#pragma once
#include <cerrno>
#include <exception>
#include <string>

namespace skiff {

class Error : public std::exception {
public:
    explicit Error(std::string message, int errnum = 0);
    const char* what() const noexcept override { return text_.c_str(); }
    int errnum() const noexcept { return errnum_; }
    const std::string& message() const noexcept { return text_; }
    // Prepends "context: " to the message; returns *this so callers can rethrow.
    Error& wrap(const std::string& context);

private:
    std::string text_;
    int errnum_;
};

// Throws Error("what: strerror(errno)") carrying the current errno.
[[noreturn]] void throw_errno(const std::string& what);
[[noreturn]] void throw_errno(const std::string& what, int errnum);

// Runs fn(); an Error escaping it gets "context: " prepended.
template <typename Fn>
auto with_context(const std::string& context, Fn&& fn) -> decltype(fn()) {
    try {
        return fn();
    } catch (Error& e) {
        e.wrap(context);
        throw;
    }
}

}  // namespace skiff
