#pragma once
// Reading our own JSON records (Paper, Idea, Review, …) from simdjson DOM: absent or null fields
// keep their defaults; a field of the wrong type is Error(errc::parse) naming `where` and the field.

#include <mlrcopilot/error.hpp>
#include <mlrcopilot/paper.hpp>

#include <boost/json/object.hpp>

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mlrc::detail::fields {

using El = simdjson::dom::element;

struct Reader {
  std::optional<El> obj;  // nullopt: an absent sub-object (every field keeps its default)
  std::string where;  // "paper.json", "idea", "result.ideas[2]"

  [[noreturn]] void fail(std::string_view key, std::string_view what) const {
    throw Error(errc::parse, where + ": field '" + std::string(key) + "' must be " + std::string(what));
  }
  std::optional<El> get(std::string_view key) const {
    if (!obj || obj->type() != simdjson::dom::element_type::OBJECT) return std::nullopt;
    simdjson::dom::object o = obj->get_object().value_unsafe();
    El v;
    if (o.at_key(key).get(v) || v.is_null()) return std::nullopt;
    return v;
  }
  void str(std::string_view key, std::string& out) const {
    if (auto v = get(key)) {
      std::string_view s;
      if (v->get(s)) fail(key, "a string");
      out = std::string(s);
    }
  }
  void strs(std::string_view key, std::vector<std::string>& out) const {
    if (auto v = get(key)) {
      simdjson::dom::array arr;
      if (v->get(arr)) fail(key, "an array of strings");
      out.clear();
      for (El x : arr) {
        std::string_view s;
        if (x.get(s)) fail(key, "an array of strings");
        out.emplace_back(s);
      }
    }
  }
  template <class Int>
  void integer(std::string_view key, Int& out) const {
    if (auto v = get(key)) {
      std::int64_t n;
      double d;
      if (!v->get(n)) out = static_cast<Int>(n);
      else if (!v->get(d) && d == static_cast<double>(static_cast<std::int64_t>(d))) out = static_cast<Int>(d);
      else fail(key, "an integer");
    }
  }
  void number(std::string_view key, double& out) const {
    if (auto v = get(key))
      if (v->get(out)) fail(key, "a number");  // simdjson converts integers to double here
  }
  Reader sub(std::string_view key) const {
    auto v = get(key);
    if (v && v->type() != simdjson::dom::element_type::OBJECT) fail(key, "an object");
    return Reader{v, where + "." + std::string(key)};
  }
};

// Parses `text` with `parser` (which must outlive the result) and checks it is an object.
inline El parse_object(simdjson::dom::parser& parser, std::string_view text, const std::string& where) {
  El root;
  if (auto e = parser.parse(text.data(), text.size()).get(root))
    throw Error(errc::parse, where + ": not valid JSON (" + simdjson::error_message(e) + ")");
  if (root.type() != simdjson::dom::element_type::OBJECT) throw Error(errc::parse, where + ": expected a JSON object");
  return root;
}

}  // namespace mlrc::detail::fields

namespace mlrc::detail {
// Paper <-> JSON pieces shared by paper.cpp and the planner's result codec.
boost::json::object paper_to_value(const Paper& p);
Paper paper_from_element(simdjson::dom::element e, const std::string& where);
}  // namespace mlrc::detail
