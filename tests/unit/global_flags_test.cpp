// The global flags: the CLI's table and the command-word finder that runs before it
// (src/early_entry.c, src/linux/sealed_exe.cpp) come from one list, src/base/global_flags.h.
// These tests fail when the two disagree on which flags exist or which take a value.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/global_flags.h"
#include "cli/cli.hpp"

using namespace skiff;

namespace {

const char* command_word(std::vector<std::string> words) {
    static std::vector<std::string> keep;
    keep = std::move(words);
    static std::vector<char*> argv;
    argv.clear();
    for (auto& w : keep) argv.push_back(w.data());
    argv.push_back(nullptr);
    return skiff_command_word(long(keep.size()), argv.data());
}

}  // namespace

TEST(GlobalFlags, EveryFlagOfTheCliIsKnownToTheEarlyParserWithItsValueRule) {
    ASSERT_FALSE(cli::global_flags().empty());
    for (const auto& flag : cli::global_flags()) {
        for (const auto& name : flag.names) {
            for (const char* dashes : {"-", "--"}) {
                std::string spelled = dashes + name;
                // A flag that takes a value hides the word after it; one that does not, doesn't.
                const char* cmd = command_word({"skiff", spelled, "create", "state"});
                ASSERT_NE(cmd, nullptr) << spelled;
                EXPECT_EQ(std::string(cmd), flag.takes_value ? "state" : "create") << spelled;
                // --flag=value never hides the next word.
                cmd = command_word({"skiff", spelled + "=x", "create"});
                ASSERT_NE(cmd, nullptr) << spelled;
                EXPECT_EQ(std::string(cmd), "create") << spelled;
            }
            EXPECT_EQ(bool(skiff_global_flag_takes_value(name.c_str())), flag.takes_value) << name;
        }
    }
}

TEST(GlobalFlags, TheCliTableIsTheListInItsOrder) {
    std::vector<std::string> listed;
#define NAME_OF(long_name, short_name, takes_value, help) listed.push_back(long_name);
    SKIFF_GLOBAL_FLAGS(NAME_OF)
#undef NAME_OF
    std::vector<std::string> parsed;
    for (const auto& flag : cli::global_flags()) parsed.push_back(flag.names.front());
    EXPECT_EQ(parsed, listed);
}

TEST(GlobalFlags, NoCommandWordWithoutOne) {
    EXPECT_EQ(command_word({"skiff"}), nullptr);
    EXPECT_EQ(command_word({"skiff", "--root"}), nullptr);
    EXPECT_EQ(command_word({"skiff", "--root", "/x", "--debug"}), nullptr);
    EXPECT_STREQ(command_word({"skiff", "--root", "/x", "--debug", "run", "-d"}), "run");
}
