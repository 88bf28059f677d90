// Whether this process runs in a user namespace other than the initial one.
#pragma once

namespace skiff::userns {

// False in the initial namespace, whose uid_map maps the whole range in one line. Read once per
// process: the flag defaults, create and the systemd companion's early start all ask.
bool in_user_namespace();

}  // namespace skiff::userns
