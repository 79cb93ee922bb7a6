#include "planning/json_schema.hpp"

#include <mlrcopilot/error.hpp>

#include <cctype>
#include <cmath>
#include <string>

namespace mlrc::detail {
namespace {

using El = simdjson::dom::element;
using T = simdjson::dom::element_type;

// By value: a range-for over `e.get_array().value_unsafe()` would iterate a dead temporary.
simdjson::dom::array array_of(El e) { return e.get_array().value_unsafe(); }
simdjson::dom::object object_of(El e) { return e.get_object().value_unsafe(); }

bool is_number(El e) { return e.type() == T::INT64 || e.type() == T::UINT64 || e.type() == T::DOUBLE; }
double as_double(El e) {
  switch (e.type()) {
    case T::INT64: return static_cast<double>(e.get_int64().value_unsafe());
    case T::UINT64: return static_cast<double>(e.get_uint64().value_unsafe());
    default: return e.get_double().value_unsafe();
  }
}
// JSON Schema counts 2.0 as an integer.
bool is_integer(El e) {
  if (e.type() == T::INT64 || e.type() == T::UINT64) return true;
  if (e.type() != T::DOUBLE) return false;
  double d = e.get_double().value_unsafe();
  return std::isfinite(d) && std::floor(d) == d;
}

bool has_type(El e, std::string_view name) {
  if (name == "object") return e.type() == T::OBJECT;
  if (name == "array") return e.type() == T::ARRAY;
  if (name == "string") return e.type() == T::STRING;
  if (name == "number") return is_number(e);
  if (name == "integer") return is_integer(e);
  if (name == "boolean") return e.type() == T::BOOL;
  if (name == "null") return e.type() == T::NULL_VALUE;
  return false;
}

bool json_equal(El a, El b) {
  if (is_number(a) && is_number(b)) return as_double(a) == as_double(b);
  if (a.type() != b.type()) return false;
  return simdjson::minify(a) == simdjson::minify(b);  // strings, bools, null, and (rarely) containers
}

std::string shown(El e, std::size_t max = 120) {
  std::string s = simdjson::minify(e);
  if (s.size() > max) s = s.substr(0, max) + "...";
  return s;
}

std::string key_segment(std::string_view key) {
  bool ident = !key.empty() && !std::isdigit(static_cast<unsigned char>(key[0]));
  for (char c : key) ident = ident && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
  if (ident) return "." + std::string(key);
  std::string s = "[\"";
  for (char c : key) {
    if (c == '"' || c == '\\') s += '\\';
    s += c;
  }
  return s + "\"]";
}

std::optional<El> member(El schema, std::string_view key) {
  El v;
  if (schema.type() != T::OBJECT || object_of(schema).at_key(key).get(v)) return std::nullopt;
  return v;
}

// Returns false and sets `err` at the first violation. `path` is the instance location.
bool check(El schema, El value, const std::string& path, std::string& err) {
  auto fail = [&](const std::string& where, const std::string& msg) {
    err = where + ": " + msg;
    return false;
  };
  if (auto type = member(schema, "type")) {
    bool ok = false;
    std::string expected;
    if (type->type() == T::STRING) {
      expected = std::string(type->get_string().value_unsafe());
      ok = has_type(value, expected);
    } else if (type->type() == T::ARRAY) {
      for (El t : array_of(*type)) {
        std::string_view name;
        if (t.get(name)) continue;
        expected += (expected.empty() ? "" : " or ") + std::string(name);
        ok = ok || has_type(value, name);
      }
    }
    if (!ok) return fail(path, "expected " + expected + ", got " + json_type_name(value));
  }
  if (auto allowed = member(schema, "enum"); allowed && allowed->type() == T::ARRAY) {
    bool found = false;
    for (El a : array_of(*allowed)) found = found || json_equal(a, value);
    if (!found) return fail(path, "expected one of " + shown(*allowed) + ", got " + shown(value));
  }
  if (is_number(value)) {
    if (auto m = member(schema, "minimum"); m && is_number(*m) && as_double(value) < as_double(*m))
      return fail(path, shown(value) + " is less than the minimum " + shown(*m));
    if (auto m = member(schema, "maximum"); m && is_number(*m) && as_double(value) > as_double(*m))
      return fail(path, shown(value) + " is greater than the maximum " + shown(*m));
  }
  if (value.type() == T::ARRAY) {
    auto arr = array_of(value);
    double n = static_cast<double>(arr.size());
    if (auto m = member(schema, "minItems"); m && is_number(*m) && n < as_double(*m))
      return fail(path, "expected at least " + shown(*m) + " items, got " + std::to_string(arr.size()));
    if (auto m = member(schema, "maxItems"); m && is_number(*m) && n > as_double(*m))
      return fail(path, "expected at most " + shown(*m) + " items, got " + std::to_string(arr.size()));
    if (auto items = member(schema, "items"); items && items->type() == T::OBJECT) {
      std::size_t i = 0;
      for (El x : arr)
        if (!check(*items, x, path + "[" + std::to_string(i++) + "]", err)) return false;
    }
  }
  if (value.type() == T::OBJECT) {
    auto obj = object_of(value);
    auto props = member(schema, "properties");
    if (auto req = member(schema, "required"); req && req->type() == T::ARRAY) {
      for (El r : array_of(*req)) {
        std::string_view name;
        El ignored;
        if (!r.get(name) && obj.at_key(name).get(ignored))
          return fail(path + key_segment(name), "required property is missing");
      }
    }
    auto extra = member(schema, "additionalProperties");
    for (auto kv : obj) {
      auto sub = props ? member(*props, kv.key) : std::nullopt;
      std::string where = path + key_segment(kv.key);
      if (sub) {
        if (!check(*sub, kv.value, where, err)) return false;
      } else if (extra && extra->type() == T::BOOL && !extra->get_bool().value_unsafe()) {
        std::string names;
        if (props && props->type() == T::OBJECT)
          for (auto p : object_of(*props)) names += (names.empty() ? "" : ", ") + std::string(p.key);
        return fail(where, "unexpected property (allowed: " + (names.empty() ? std::string("none") : names) + ")");
      } else if (extra && extra->type() == T::OBJECT) {
        if (!check(*extra, kv.value, where, err)) return false;
      }
    }
  }
  return true;
}

}  // namespace

const char* json_type_name(El e) noexcept {
  switch (e.type()) {
    case T::OBJECT: return "object";
    case T::ARRAY: return "array";
    case T::STRING: return "string";
    case T::INT64:
    case T::UINT64: return "integer";
    case T::DOUBLE: return "number";
    case T::BOOL: return "boolean";
    case T::NULL_VALUE: return "null";
  }
  return "unknown";
}

JsonSchema::JsonSchema(std::string_view schema) : parser_(std::make_unique<simdjson::dom::parser>()) {
  if (auto e = parser_->parse(schema.data(), schema.size()).get(root_))
    throw Error(errc::invalid_argument, std::string("JSON schema is not valid JSON (") + simdjson::error_message(e) + ")");
  if (root_.type() != T::OBJECT) throw Error(errc::invalid_argument, "JSON schema must be an object");
  text_ = simdjson::minify(root_);
}

std::optional<std::string> JsonSchema::validate(El value) const {
  std::string err;
  if (check(root_, value, "$", err)) return std::nullopt;
  return err;
}

std::string_view extract_json_object(std::string_view reply) noexcept {
  auto open = reply.find('{');
  auto close = reply.rfind('}');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) return reply;
  return reply.substr(open, close - open + 1);
}

}  // namespace mlrc::detail
