// What every skiff fuzz target checks besides "no crash": a bad input must end in exactly one
// skiff::Error with a non-empty message that, as the CLI prints it (cli::one_line), is one
// line. Any other exception escapes, and libFuzzer reports it as a crash.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/cli.hpp"
#include "base/error.hpp"

namespace skiff::fuzz {

inline void check_message(const Error& e) {
    std::string raw = e.what();
    std::string m = cli::one_line(raw);
    if (raw.empty() || m.find('\n') != std::string::npos || m.find('\r') != std::string::npos) {
        fprintf(stderr, "bad error message: [%s]\n", m.c_str());
        abort();
    }
    // --log writes it as a JSON string: dump() throws on bytes that are not UTF-8.
    (void)nlohmann::json(m).dump();
}

// Runs fn; a skiff::Error is the expected outcome of bad input and must be well-formed.
template <typename Fn>
void expect_clean(Fn&& fn) {
    try {
        fn();
    } catch (const Error& e) {
        check_message(e);
    }
}

}  // namespace skiff::fuzz
