// libFuzzer target: the runc-style flag parser (cli::Args) with the global flag table and a
// create-like command table, plus cli::parse_signal. The input is split on NUL bytes into
// argv words; the first word also goes to parse_signal on its own.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cli/args.hpp"
#include "cli/cli.hpp"
#include "fuzz_common.hpp"

namespace {

using skiff::cli::Args;
using skiff::cli::FlagSpec;

// Same shapes as the real tables: long + short names, value and bool flags.
const std::vector<FlagSpec> kGlobal = {
    {{"root"}, true, ""},  {{"log"}, true, ""},      {{"log-format"}, true, ""},
    {{"debug"}, false, ""}, {{"systemd-cgroup"}, false, ""}, {{"version", "v"}, false, ""},
    {{"help", "h"}, false, ""},
};
const std::vector<FlagSpec> kCommand = {
    {{"bundle", "b"}, true, ""}, {{"pid-file"}, true, ""},   {{"preserve-fds"}, true, ""},
    {{"detach", "d"}, false, ""}, {{"force", "f"}, false, ""}, {{"all", "a"}, false, ""},
    {{"env", "e"}, true, ""},     {{"help", "h"}, false, ""},
};

void use(const Args& a, const std::vector<FlagSpec>& specs) {
    for (const auto& s : specs) {
        const std::string& n = s.names[0];
        (void)a.has(n);
        (void)a.flag(n);
        (void)a.value(n, "x");
        (void)a.values(n);
    }
    (void)a.int_value("preserve-fds", 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::vector<std::string> argv = {"skiff"};
    std::string word;
    for (size_t i = 0; i < size; ++i) {
        if (data[i] == 0) {
            argv.push_back(word);
            word.clear();
        } else {
            word += char(data[i]);
        }
    }
    argv.push_back(word);

    skiff::fuzz::expect_clean([&] { (void)skiff::cli::parse_signal(argv[1]); });
    skiff::fuzz::expect_clean([&] {
        Args global(kGlobal, argv, 1);
        use(global, kGlobal);
        // The command's flags start after the first positional, as in cli::main.
        size_t cmd = argv.size() - global.positional().size();
        if (cmd >= argv.size()) return;
        Args command(kCommand, argv, cmd + 1);
        use(command, kCommand);
        for (const auto& p : command.positional()) (void)p.size();
    });
    return 0;
}
