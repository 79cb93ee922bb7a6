#pragma once
// `mlrc index build|add|search|stats`: the local retrieval index from the command line.
#include <string>
#include <vector>

namespace mlrc {
inline namespace v1 {

/** Runs `mlrc index …`. `argv` holds the arguments after "index" (e.g. {"search", "--index", "d",
 *  "query"}). Writes results to stdout, progress and diagnostics to stderr. Returns the exit code:
 *  0 ok, 1 the operation failed (I/O), 2 usage error, 3 bad input (empty query, missing or newer
 *  index, unreadable input file). */
int cmd_index(const std::vector<std::string>& argv);

}  // namespace v1
}  // namespace mlrc
