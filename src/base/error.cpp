#include "base/error.hpp"

#include <cstring>

namespace skiff {

Error::Error(std::string message, int errnum) : text_(std::move(message)), errnum_(errnum) {}

Error& Error::wrap(const std::string& context) {
    text_ = context + ": " + text_;
    return *this;
}

void throw_errno(const std::string& what, int errnum) {
    throw Error(what + ": " + std::strerror(errnum), errnum);
}

void throw_errno(const std::string& what) { throw_errno(what, errno); }

}  // namespace skiff
