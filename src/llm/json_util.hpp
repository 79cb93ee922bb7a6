#pragma once
// Private JSON helpers shared by the wire code and the neutral codec: a re-entrant simdjson DOM
// parse, small typed accessors, simdjson -> Boost.JSON conversion, and a serializer that can sort
// keys (canonical form). Escaping is always Boost.JSON's; only the layout is ours.

#include <mlrcopilot/error.hpp>

#include <boost/json.hpp>
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mlrc::detail::json {

using Element = simdjson::dom::element;

// Parses one document. Each thread reuses one simdjson parser (its buffers are the expensive
// part); if that parser is already in use further up the stack (an observer callback that parses
// JSON while a stream chunk is still being read), a private parser is used instead, so an element
// held by the caller is never invalidated. Elements live as long as this object.
class Parsed {
 public:
  explicit Parsed(std::string_view text) {
    Shared& s = shared();
    if (!s.busy) {
      parser_ = &s.parser;
      s.busy = true;
      leased_ = true;
    } else {
      own_ = std::make_unique<simdjson::dom::parser>();
      parser_ = own_.get();
    }
    err_ = text.empty() ? simdjson::EMPTY : parser_->parse(text.data(), text.size()).get(root_);
  }
  ~Parsed() {
    if (leased_) shared().busy = false;
  }
  Parsed(const Parsed&) = delete;
  Parsed& operator=(const Parsed&) = delete;

  bool ok() const noexcept { return err_ == simdjson::SUCCESS; }
  const char* error() const noexcept { return simdjson::error_message(err_); }
  Element root() const noexcept { return root_; }

 private:
  struct Shared {
    simdjson::dom::parser parser;
    bool busy = false;
  };
  static Shared& shared() {
    thread_local Shared s;
    return s;
  }
  simdjson::dom::parser* parser_ = nullptr;
  std::unique_ptr<simdjson::dom::parser> own_;
  bool leased_ = false;
  simdjson::error_code err_ = simdjson::SUCCESS;
  Element root_;
};

// Member `key` of `e` when `e` is an object that has it and it is not null.
inline std::optional<Element> member(Element e, std::string_view key) {
  simdjson::dom::object o;
  if (e.get(o) != simdjson::SUCCESS) return std::nullopt;
  Element v;
  if (o.at_key(key).get(v) != simdjson::SUCCESS || v.is_null()) return std::nullopt;
  return v;
}
// String member, or `dflt` when absent or not a string.
inline std::string_view str(Element e, std::string_view key, std::string_view dflt = {}) {
  std::string_view s;
  auto v = member(e, key);
  return v && v->get(s) == simdjson::SUCCESS ? s : dflt;
}
// Integer member, or `dflt` when absent or not an integer (token counts).
inline std::int64_t int_or(Element e, std::string_view key, std::int64_t dflt = 0) {
  std::int64_t n = 0;
  auto v = member(e, key);
  return v && v->get(n) == simdjson::SUCCESS ? n : dflt;
}
inline bool is_object(Element e) { return e.type() == simdjson::dom::element_type::OBJECT; }
inline bool is_array(Element e) { return e.type() == simdjson::dom::element_type::ARRAY; }

// Minified JSON text of an element (used when a provider gives an object where we keep text).
inline std::string text_of(Element e) { return simdjson::to_string(e); }

// Deep copy into Boost.JSON (for embedding caller-supplied JSON text into outbound bodies).
inline boost::json::value to_value(Element e) {
  using T = simdjson::dom::element_type;
  switch (e.type()) {
    case T::ARRAY: {
      simdjson::dom::array arr = e.get_array().value_unsafe();  // named: range-for over a temporary's member dangles
      boost::json::array a;
      for (Element x : arr) a.push_back(to_value(x));
      return a;
    }
    case T::OBJECT: {
      simdjson::dom::object obj = e.get_object().value_unsafe();
      boost::json::object o;
      for (auto kv : obj) o[kv.key] = to_value(kv.value);
      return o;
    }
    case T::INT64: return e.get_int64().value_unsafe();
    case T::UINT64: return e.get_uint64().value_unsafe();
    case T::DOUBLE: return e.get_double().value_unsafe();
    case T::STRING: return boost::json::string(e.get_string().value_unsafe());
    case T::BOOL: return e.get_bool().value_unsafe();
    case T::NULL_VALUE: break;
  }
  return nullptr;
}

// Parses JSON text into a Boost.JSON value; nullopt when it is not valid JSON.
inline std::optional<boost::json::value> parse_value(std::string_view text) {
  Parsed p(text);
  if (!p.ok()) return std::nullopt;
  return to_value(p.root());
}

// Caller-supplied JSON text (a schema, tool arguments) as a value to embed in an outbound body.
inline boost::json::value required_value(std::string_view text, const std::string& what) {
  auto v = parse_value(text);
  if (!v) throw Error(errc::invalid_argument, what + " is not valid JSON");
  return std::move(*v);
}

// "message (type: t, code: c)" from a provider error object {"message","type","code"} (OpenAI's
// "error" member, Anthropic's "error" member). "" when it has none of them.
inline std::string error_text(Element e) {
  std::string msg(str(e, "message"));
  std::string type(str(e, "type"));
  std::string code;
  if (auto c = member(e, "code")) code = c->is_string() ? std::string(str(e, "code")) : text_of(*c);
  std::string extra;
  if (!type.empty()) extra = "type: " + type;
  if (!code.empty() && code != type) extra += (extra.empty() ? "code: " : ", code: ") + code;
  if (msg.empty()) return extra;
  return extra.empty() ? msg : msg + " (" + extra + ")";
}

// Serializes `v` without whitespace; with `sorted`, object keys are in byte order at every level.
// Doubles are printed in shortest round-trip form ("0.7", where Boost.JSON would print "7E-1").
inline void dump(std::string& out, const boost::json::value& v, bool sorted) {
  switch (v.kind()) {
    case boost::json::kind::object: {
      std::vector<const boost::json::key_value_pair*> kvs;
      for (const auto& kv : v.get_object()) kvs.push_back(&kv);
      if (sorted)
        std::sort(kvs.begin(), kvs.end(), [](auto* a, auto* b) { return a->key() < b->key(); });
      out += '{';
      for (std::size_t i = 0; i < kvs.size(); ++i) {
        if (i) out += ',';
        out += boost::json::serialize(kvs[i]->key());
        out += ':';
        dump(out, kvs[i]->value(), sorted);
      }
      out += '}';
      return;
    }
    case boost::json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& x : v.get_array()) {
        if (!first) out += ',';
        first = false;
        dump(out, x, sorted);
      }
      out += ']';
      return;
    }
    case boost::json::kind::double_: {
      double d = v.get_double();
      if (!std::isfinite(d)) {  // JSON has no inf/nan
        out += "null";
        return;
      }
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof buf, d);
      out.append(buf, r.ptr);
      return;
    }
    default: out += boost::json::serialize(v); return;  // strings, integers, bool, null
  }
}
inline std::string dump(const boost::json::value& v, bool sorted = false) {
  std::string out;
  dump(out, v, sorted);
  return out;
}

}  // namespace mlrc::detail::json
