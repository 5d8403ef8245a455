#pragma once
// The golden files built from the format specs (test/golden/), shared by the mixin's unit tests.
#include "util/fs.hpp"

#include <filesystem>
#include <string>

namespace hfhub::test {

// test/golden, found from this header's place in the source tree (test/unit/mixin/).
inline const std::filesystem::path golden = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "golden";

// A file's bytes; empty when it is missing, which the golden checks refuse.
inline std::string slurp(const std::filesystem::path& p) { return util::read_file(p).value_or(""); }

}  // namespace hfhub::test
