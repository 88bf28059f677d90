#include "base/text.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/error.hpp"

namespace skiff::text {

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i <= s.size()) {
        size_t j = s.find(sep, i);
        if (j == std::string_view::npos) j = s.size();
        if (j > i) out.push_back(s.substr(i, j - i));
        i = j + 1;
    }
    return out;
}

std::vector<std::string_view> lines(std::string_view s) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < s.size()) {
        size_t j = s.find('\n', i);
        if (j == std::string_view::npos) j = s.size();
        out.push_back(s.substr(i, j - i));
        i = j + 1;
    }
    return out;
}

std::vector<std::string_view> fields(std::string_view s) {
    std::vector<std::string_view> out;
    auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; };
    size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && blank(s[i])) ++i;
        size_t j = i;
        while (j < s.size() && !blank(s[j])) ++j;
        if (j > i) out.push_back(s.substr(i, j - i));
        i = j;
    }
    return out;
}

std::string unescape_mountinfo(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        bool octal = s[i] == '\\' && i + 3 < s.size() &&
                     s.substr(i + 1, 3).find_first_not_of("01234567") == std::string_view::npos;
        if (octal) {
            out += char((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::string read_fd(int fd, const std::string& what) {
    std::string out;
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("read " + what);
        if (n == 0) break;
        out.append(buf, size_t(n));
    }
    return out;
}

std::string read_file_or_empty(const std::string& path) {
    try {
        return read_file(path);
    } catch (const Error&) {
        return "";
    }
}

std::string read_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_errno("open " + path);
    try {
        std::string out = read_fd(fd, path);
        ::close(fd);
        return out;
    } catch (...) {
        ::close(fd);
        throw;
    }
}

void write_file(const std::string& path, const std::string& data) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) throw_errno("open " + path);
    ssize_t n = ::write(fd, data.data(), data.size());
    int saved = errno;
    ::close(fd);
    if (n != ssize_t(data.size())) throw_errno("write " + path, saved);
}

std::string join_lexically(const std::string& base, const std::string& rel) {
    const bool absolute = !base.empty() && base[0] == '/';
    std::vector<std::string> parts;
    for (const std::string& piece : {base, rel}) {
        size_t at = 0;
        while (at <= piece.size()) {
            size_t end = piece.find('/', at);
            if (end == std::string::npos) end = piece.size();
            std::string name = piece.substr(at, end - at);
            at = end + 1;
            if (name.empty() || name == ".") continue;
            if (name == ".." && !parts.empty() && parts.back() != "..") parts.pop_back();
            else if (name != ".." || !absolute) parts.push_back(name);
        }
    }
    std::string out = absolute ? "/" : "";
    for (size_t i = 0; i < parts.size(); ++i) out += (i ? "/" : "") + parts[i];
    return out.empty() ? "." : out;
}

}  // namespace skiff::text
