// The section parsers behind config.hpp, one file per concern. Internal to src/oci/.
#pragma once
#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "oci/json_reader.hpp"
#include "oci/spec.hpp"

namespace skiff::oci::detail {

// parse_process.cpp: "process" (config.json) and process.json (exec --process).
Process read_process(const Node& n);

// parse_resources.cpp: "linux.resources" and update --resources.
Resources read_resources(const Node& n);

// parse_linux.cpp: "linux" minus resources; and the id mappings shared with mounts.
Linux read_linux(const Node& n);
std::vector<IdMapping> read_id_mappings(const Node& n);

// Enum checks shared by more than one section.
void require_absolute(const Node& n, const std::string& value);

template <size_t N>
bool one_of(const std::array<std::string_view, N>& set, const std::string& v) {
    return std::find(set.begin(), set.end(), v) != set.end();
}

}  // namespace skiff::oci::detail
