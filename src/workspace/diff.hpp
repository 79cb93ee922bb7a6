#pragma once
// Line diff (sans-io): Myers' O(ND) algorithm in linear space (the "middle snake" bisection),
// and GNU-compatible unified hunks. Used by Workspace::edit / diff_text / diff.

#include <mlrcopilot/error.hpp>  // first: declares mlrc::detail (see error.hpp)
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mlrc::detail {

// Splits text into lines, each keeping its '\n' (the last one may lack it). "" has no lines.
std::vector<std::string_view> split_lines(std::string_view text);

// One step of an edit script from a to b. `a` and `b` are the positions in the old and new
// line lists where the step happens (for an insert, `a` is the old line it goes before).
struct DiffOp {
  enum Kind : unsigned char { equal, remove, insert };
  Kind kind;
  std::size_t a, b;
};

// A shortest edit script turning `a` into `b` (removals before insertions within a change).
// Lines compare byte for byte, newline included. When a region needs more than `max_cost`
// edits, it is given up as "remove all, insert all" (correct, not minimal) to bound the time.
std::vector<DiffOp> diff_lines(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b,
                               std::size_t max_cost = 4096);

// Unified diff with `context` lines around each change, headers "--- <from_label>" and
// "+++ <to_label>", hunk ranges as GNU diff prints them, and "\ No newline at end of file"
// after a last line without one. Empty when the texts are equal.
std::string unified_diff(std::string_view before, std::string_view after, std::string_view from_label,
                         std::string_view to_label, std::size_t context = 3);

}  // namespace mlrc::detail
