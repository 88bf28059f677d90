// base/text: the splitting that replaced iostreams in the runtime (see text.hpp for why).
#include <gtest/gtest.h>
#include <unistd.h>

#include "base/error.hpp"
#include "base/text.hpp"

using namespace skiff;

namespace {
std::vector<std::string> str(const std::vector<std::string_view>& v) { return {v.begin(), v.end()}; }
}  // namespace

TEST(Text, SplitDropsEmptyPieces) {
    EXPECT_EQ(str(text::split("/a//b/", '/')), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(str(text::split("", ',')), std::vector<std::string>{});
    EXPECT_EQ(str(text::split("cpu,cpuacct", ',')), (std::vector<std::string>{"cpu", "cpuacct"}));
}

TEST(Text, LinesLikeGetline) {
    EXPECT_EQ(str(text::lines("a\nb\n")), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(str(text::lines("a\n\nb")), (std::vector<std::string>{"a", "", "b"}));
    EXPECT_EQ(str(text::lines("")), std::vector<std::string>{});
}

TEST(Text, FieldsLikeStreamExtraction) {
    EXPECT_EQ(str(text::fields("  8:0 Read\t4096\n")), (std::vector<std::string>{"8:0", "Read", "4096"}));
    EXPECT_EQ(str(text::fields(" \t\n")), std::vector<std::string>{});
}

TEST(Text, ReadFileNamesThePath) {
    EXPECT_NE(text::read_file("/proc/self/status").find("Pid:"), std::string::npos);
    try {
        text::read_file("/nonexistent/skiff-text-test");
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent/skiff-text-test"), std::string::npos);
    }
    try {
        text::read_file("/");
        ADD_FAILURE() << "a directory read as a file";
    } catch (const Error& e) {
        EXPECT_EQ(e.errnum(), EISDIR);
    }
}

TEST(Text, ReadFdReadsToEndOfFileAndNamesWhatOnError) {
    int p[2];
    ASSERT_EQ(::pipe(p), 0);
    std::string big(20000, 'x');  // more than one read's buffer
    ASSERT_EQ(::write(p[1], big.data(), big.size()), ssize_t(big.size()));
    ::close(p[1]);
    EXPECT_EQ(text::read_fd(p[0], "the pipe"), big);
    ::close(p[0]);
    try {
        text::read_fd(p[0], "the closed pipe");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()), "read the closed pipe: Bad file descriptor");
    }
}

TEST(Text, UnescapeMountinfoDecodesOctalEscapesOnly) {
    EXPECT_EQ(text::unescape_mountinfo("/mnt/a\\040b\\011c\\134d"), "/mnt/a b\tc\\d");
    EXPECT_EQ(text::unescape_mountinfo("/x\\04"), "/x\\04");   // too short to be an escape
    EXPECT_EQ(text::unescape_mountinfo("/x\\09a"), "/x\\09a");  // not octal
}

TEST(Text, JoinLexicallyCleansAsGoFilepathJoin) {
    using skiff::text::join_lexically;
    EXPECT_EQ(join_lexically("/a/b", "c"), "/a/b/c");
    EXPECT_EQ(join_lexically("/a/b", "/c"), "/a/b/c");  // the second part is relative to the first
    EXPECT_EQ(join_lexically("/a/b", "../c"), "/a/c");
    EXPECT_EQ(join_lexically("/a/b/", "./x/../"), "/a/b");
    EXPECT_EQ(join_lexically("/a", "../../.."), "/");    // never above the root
    EXPECT_EQ(join_lexically("a", "../../b"), "../b");   // a relative path keeps its ..
    EXPECT_EQ(join_lexically("", ""), ".");
}
