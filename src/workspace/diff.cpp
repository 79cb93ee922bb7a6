#include "workspace/diff.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace mlrc::detail {

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::size_t n = nl == std::string_view::npos ? text.size() : nl + 1;
    lines.push_back(text.substr(0, n));
    text.remove_prefix(n);
  }
  return lines;
}

namespace {

// Marks which lines of a are removed and which of b are inserted. Lines are compared as small
// integers (equal lines share an id), which keeps the inner loops cheap.
class Myers {
 public:
  Myers(std::vector<std::uint32_t> a, std::vector<std::uint32_t> b, long max_cost)
      : removed(a.size()), inserted(b.size()), a_(std::move(a)), b_(std::move(b)), max_cost_(max_cost) {}

  void run() { compare(0, static_cast<long>(a_.size()), 0, static_cast<long>(b_.size())); }

  std::vector<bool> removed, inserted;  // the result

 private:
  const std::vector<std::uint32_t> a_, b_;
  const long max_cost_;

  void give_up(long a0, long a1, long b0, long b1) {
    for (long i = a0; i < a1; ++i) removed[i] = true;
    for (long j = b0; j < b1; ++j) inserted[j] = true;
  }

  void compare(long a0, long a1, long b0, long b1) {
    // Common prefix and suffix cost nothing; trimming them also guarantees that what is left
    // needs at least two edits when both sides are non-empty, so bisection always splits.
    while (a0 < a1 && b0 < b1 && a_[a0] == b_[b0]) ++a0, ++b0;
    while (a0 < a1 && b0 < b1 && a_[a1 - 1] == b_[b1 - 1]) --a1, --b1;
    if (a0 == a1 || b0 == b1) return give_up(a0, a1, b0, b1);
    auto split = bisect(a0, a1, b0, b1);
    if (!split || (split->first == a0 && split->second == b0) || (split->first == a1 && split->second == b1))
      return give_up(a0, a1, b0, b1);  // too costly (or no progress, which would recurse forever)
    compare(a0, split->first, b0, split->second);
    compare(split->first, a1, split->second, b1);
  }

  // Finds a point on a shortest edit path through the middle of the problem by walking
  // furthest-reaching paths from both corners until they overlap (Myers 1986, section 4b).
  // Layout follows diff-match-patch's diff_bisect, which clips diagonals that run off the grid.
  std::optional<std::pair<long, long>> bisect(long a0, long a1, long b0, long b1) const {
    const long n = a1 - a0, m = b1 - b0;
    const long max_d = std::min((n + m + 1) / 2, max_cost_);
    const long off = max_d + 1, len = 2 * max_d + 3;
    std::vector<long> v1(len, -1), v2(len, -1);
    v1[off + 1] = 0;
    v2[off + 1] = 0;
    const long delta = n - m;
    const bool front = (delta % 2) != 0;  // odd delta: the forward walk detects the overlap
    long k1start = 0, k1end = 0, k2start = 0, k2end = 0;
    for (long d = 0; d < max_d; ++d) {
      for (long k1 = -d + k1start; k1 <= d - k1end; k1 += 2) {
        const long i1 = off + k1;
        long x1 = (k1 == -d || (k1 != d && v1[i1 - 1] < v1[i1 + 1])) ? v1[i1 + 1] : v1[i1 - 1] + 1;
        long y1 = x1 - k1;
        while (x1 < n && y1 < m && a_[a0 + x1] == b_[b0 + y1]) ++x1, ++y1;
        v1[i1] = x1;
        if (x1 > n) {
          k1end += 2;  // ran off the right of the grid
        } else if (y1 > m) {
          k1start += 2;  // ran off the bottom
        } else if (front) {
          const long i2 = off + delta - k1;
          if (i2 >= 0 && i2 < len && v2[i2] != -1 && x1 >= n - v2[i2]) return std::pair{a0 + x1, b0 + y1};
        }
      }
      for (long k2 = -d + k2start; k2 <= d - k2end; k2 += 2) {
        const long i2 = off + k2;
        long x2 = (k2 == -d || (k2 != d && v2[i2 - 1] < v2[i2 + 1])) ? v2[i2 + 1] : v2[i2 - 1] + 1;
        long y2 = x2 - k2;
        while (x2 < n && y2 < m && a_[a1 - 1 - x2] == b_[b1 - 1 - y2]) ++x2, ++y2;
        v2[i2] = x2;
        if (x2 > n) {
          k2end += 2;
        } else if (y2 > m) {
          k2start += 2;
        } else if (!front) {
          const long i1 = off + delta - k2;
          if (i1 >= 0 && i1 < len && v1[i1] != -1) {
            const long x1 = v1[i1];
            const long y1 = off + x1 - i1;
            if (x1 >= n - x2) return std::pair{a0 + x1, b0 + y1};
          }
        }
      }
    }
    return std::nullopt;
  }
};

}  // namespace

std::vector<DiffOp> diff_lines(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b,
                               std::size_t max_cost) {
  std::unordered_map<std::string_view, std::uint32_t> ids;
  auto to_ids = [&](const std::vector<std::string_view>& lines) {
    std::vector<std::uint32_t> out;
    out.reserve(lines.size());
    for (auto l : lines) out.push_back(ids.try_emplace(l, static_cast<std::uint32_t>(ids.size())).first->second);
    return out;
  };
  auto ia = to_ids(a);
  auto ib = to_ids(b);
  Myers my(std::move(ia), std::move(ib), static_cast<long>(std::max<std::size_t>(max_cost, 1)));
  my.run();

  std::vector<DiffOp> ops;
  ops.reserve(std::max(a.size(), b.size()));
  std::size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (i < a.size() && my.removed[i]) {
      ops.push_back({DiffOp::remove, i++, j});
    } else if (j < b.size() && my.inserted[j]) {
      ops.push_back({DiffOp::insert, i, j++});
    } else {
      ops.push_back({DiffOp::equal, i++, j++});
    }
  }
  return ops;
}

namespace {
// GNU's hunk range: "start,count", "start" alone when count is 1, and for an empty range the
// number of the line before it.
std::string range(std::size_t start, std::size_t count) {
  if (count == 0) return std::to_string(start) + ",0";
  if (count == 1) return std::to_string(start + 1);
  return std::to_string(start + 1) + "," + std::to_string(count);
}

void put_line(std::string& out, char tag, std::string_view line) {
  out += tag;
  out += line;
  if (line.empty() || line.back() != '\n') out += "\n\\ No newline at end of file\n";
}
}  // namespace

std::string unified_diff(std::string_view before, std::string_view after, std::string_view from_label,
                         std::string_view to_label, std::size_t context) {
  const auto a = split_lines(before);
  const auto b = split_lines(after);
  const auto ops = diff_lines(a, b);
  auto is_change = [&](std::size_t k) { return ops[k].kind != DiffOp::equal; };

  std::string out;
  std::size_t k = 0;
  while (true) {
    while (k < ops.size() && !is_change(k)) ++k;
    if (k == ops.size()) break;
    if (out.empty()) {
      out.append("--- ").append(from_label).append("\n+++ ").append(to_label).append("\n");
    }
    // A hunk runs from `context` lines before its first change to `context` lines after its last;
    // changes separated by at most 2*context equal lines share a hunk (their contexts touch).
    const std::size_t start = k >= context ? k - context : 0;
    std::size_t last = k;
    for (std::size_t next = k + 1; next < ops.size(); ++next) {
      if (!is_change(next)) continue;
      if (next - last - 1 > 2 * context) break;
      last = next;
    }
    const std::size_t end = std::min(ops.size(), last + 1 + context);
    std::size_t old_count = 0, new_count = 0;
    for (std::size_t q = start; q < end; ++q) {
      if (ops[q].kind != DiffOp::insert) ++old_count;
      if (ops[q].kind != DiffOp::remove) ++new_count;
    }
    out.append("@@ -").append(range(ops[start].a, old_count)).append(" +").append(range(ops[start].b, new_count));
    out.append(" @@\n");
    for (std::size_t q = start; q < end; ++q) {
      switch (ops[q].kind) {
        case DiffOp::equal: put_line(out, ' ', a[ops[q].a]); break;
        case DiffOp::remove: put_line(out, '-', a[ops[q].a]); break;
        case DiffOp::insert: put_line(out, '+', b[ops[q].b]); break;
      }
    }
    k = end;
  }
  return out;
}

}  // namespace mlrc::detail
