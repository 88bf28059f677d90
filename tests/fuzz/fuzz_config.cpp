// libFuzzer target: config.json, process.json (exec --process) and resources JSON (update
// --resources) parsers and their validation. Each input is fed to all three, since they
// share the JSON reader and most of their sub-parsers.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_common.hpp"
#include "oci/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    skiff::fuzz::expect_clean([&] { (void)skiff::oci::parse_config(text); });
    skiff::fuzz::expect_clean([&] { (void)skiff::oci::parse_process(text); });
    skiff::fuzz::expect_clean([&] { (void)skiff::oci::parse_resources(text); });
    return 0;
}
