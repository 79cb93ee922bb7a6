#pragma once
// A small JSON Schema validator (sans-io) for checking what a model returned under structured
// output. Providers do not all enforce the schema (llama.cpp without a grammar, Anthropic's forced
// tool, models that wrap JSON in prose), so the planner validates every reply itself and repairs
// by re-asking with the first error.
//
// Supported keywords: type (a name or a list of names: object, array, string, number, integer,
// boolean, null), properties, required, additionalProperties (false or a schema), items, enum,
// minimum, maximum, minItems, maxItems. Other keywords (description, title, …) are ignored.

#include <mlrcopilot/error.hpp>  // first: declares mlrc::detail (see error.hpp)
#include <simdjson.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace mlrc::detail {

class JsonSchema {
 public:
  /** Compiles `schema` (JSON text). Throws Error(errc::invalid_argument) if it is not a JSON object. */
  explicit JsonSchema(std::string_view schema);
  /** The schema as minified JSON text (what is sent as ResponseFormat::schema). */
  const std::string& text() const noexcept { return text_; }
  /** The first violation as "PATH: message" (e.g. "$.ideas[1].plan.steps: expected array, got
   *  string"), or nullopt when `value` conforms. Thread-safe (read-only). */
  std::optional<std::string> validate(simdjson::dom::element value) const;

 private:
  std::unique_ptr<simdjson::dom::parser> parser_;  // owns the schema's DOM; elements point into it
  simdjson::dom::element root_;
  std::string text_;
};

/** The JSON object in a model's reply: the span from the first '{' to the last '}' (models wrap
 *  JSON in Markdown fences or a sentence). Returns `reply` unchanged when it holds no braces, so
 *  the parse error reports the real text. */
std::string_view extract_json_object(std::string_view reply) noexcept;

/** JSON type name of an element as used in messages: object, array, string, integer, number,
 *  boolean, null. */
const char* json_type_name(simdjson::dom::element e) noexcept;

}  // namespace mlrc::detail
