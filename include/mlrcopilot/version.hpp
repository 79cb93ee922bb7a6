#pragma once
/** @file version.hpp
 *  The library version. CMake parses the three numbers below: this is the only place to change it. */

#define MLRC_VERSION_MAJOR 0
#define MLRC_VERSION_MINOR 1
#define MLRC_VERSION_PATCH 0

namespace mlrc {
inline namespace v1 {
/** Version as MAJOR*10000 + MINOR*100 + PATCH, fixed at compile time. */
inline constexpr int version_number = MLRC_VERSION_MAJOR * 10000 + MLRC_VERSION_MINOR * 100 + MLRC_VERSION_PATCH;
/** Version of the library actually linked (may differ from the header's when linked dynamically). */
int linked_version_number() noexcept;
/** "MAJOR.MINOR.PATCH" of the linked library. Static storage; never null. */
const char* linked_version_string() noexcept;
}  // namespace v1
}  // namespace mlrc
