// `semg --version`: the version, the git commit it was built from, and the versions of the
// libraries that shape its numbers and files (for a methods section or a bug report).
#pragma once

#include <string>

namespace semg::tools {

std::string version_text();

} // namespace semg::tools
