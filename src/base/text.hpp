// Splitting text and reading small files without iostreams: a stream drags libstdc++'s whole
// locale machinery into the static binary (~400 KB of text, all of it resident) and builds
// the classic locale's facets on first use in every command.
#pragma once
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace skiff::text {

// The pieces of s between sep, empty ones left out.
std::vector<std::string_view> split(std::string_view s, char sep);

// The lines of s without their '\n'; a last line without one counts, an empty tail does not.
std::vector<std::string_view> lines(std::string_view s);

// The fields of s separated by blanks (space, tab, newline, ...), as `stream >> word` reads them.
std::vector<std::string_view> fields(std::string_view s);

// The pieces point into the text: a temporary std::string would leave them dangling.
template <class S>
    requires std::is_same_v<S, std::string>
std::vector<std::string_view> split(S&&, char) = delete;
template <class S>
    requires std::is_same_v<S, std::string>
std::vector<std::string_view> lines(S&&) = delete;
template <class S>
    requires std::is_same_v<S, std::string>
std::vector<std::string_view> fields(S&&) = delete;

// A /proc/self/mountinfo path field as the path it names: blanks, tabs, newlines and
// backslashes come escaped there as \ooo.
std::string unescape_mountinfo(std::string_view field);

// The whole file; throws Error naming the path (open, read, EISDIR for a directory).
std::string read_file(const std::string& path);
// The whole file, or "" when it cannot be read (gone, not yet written: polled state files).
std::string read_file_or_empty(const std::string& path);

// Writes all of data to the existing file at path in one write (procfs and cgroup files take
// one write per value); throws naming the path.
void write_file(const std::string& path, const std::string& data);

// base and rel joined as Go's filepath.Join does (runc's paths): "a/b/../c" is "a/c", "." and
// empty names go, ".." takes a name off (never above "/"); without asking the filesystem.
std::string join_lexically(const std::string& base, const std::string& rel);

// Everything left on fd until end of file; errors name `what`.
std::string read_fd(int fd, const std::string& what);

}  // namespace skiff::text
