// Reading config.json (and process.json, resources JSON) into oci types, with validation.
// Every error names the JSON path and the reason:
//   linux.namespaces[2].type: unknown namespace type "pidd"
#pragma once
#include <string>
#include <string_view>

#include "oci/spec.hpp"

namespace skiff::oci {

// Parses and validates a whole config.json text. Throws skiff::Error on the first problem.
Spec parse_config(std::string_view json_text);

// A process.json as given to `exec --process`; same rules as config.json's "process".
Process parse_process(std::string_view json_text);

// The linux.resources object as given to `update --resources`.
Resources parse_resources(std::string_view json_text);

}  // namespace skiff::oci
