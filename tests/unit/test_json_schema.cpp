// The planner's JSON-schema validator, tested directly (sans-io): each keyword, error paths, and
// the extraction of a JSON object from a chatty reply.

#include <catch2/catch.hpp>

#include <mlrcopilot/error.hpp>

#include "planning/json_schema.hpp"

#include <optional>
#include <string>

using mlrc::detail::extract_json_object;
using mlrc::detail::JsonSchema;

namespace {

// Validates `json` against `schema`; returns the first error or "" when valid.
std::string check(const JsonSchema& schema, const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.parse(json).get(doc) == simdjson::SUCCESS);
  return schema.validate(doc).value_or("");
}

const char* const idea_schema = R"({
  "type": "object", "additionalProperties": false, "required": ["ideas"],
  "properties": {"ideas": {"type": "array", "minItems": 1, "maxItems": 3, "items": {
    "type": "object", "required": ["title", "plan"], "additionalProperties": false,
    "properties": {
      "title": {"type": "string"},
      "score": {"type": "integer", "minimum": 1, "maximum": 5},
      "kind": {"enum": ["new", "refined"]},
      "plan": {"type": "object", "required": ["steps"], "properties": {"steps": {"type": "array", "items": {"type": "string"}}}}
    }}}}})";

}  // namespace

TEST_CASE("A conforming document passes", "[schema]") {
  JsonSchema s(idea_schema);
  CHECK(check(s, R"({"ideas":[{"title":"a","plan":{"steps":["x","y"]},"score":5,"kind":"new"}]})").empty());
  // Unknown keywords are ignored and objects without additionalProperties accept extras.
  CHECK(check(s, R"({"ideas":[{"title":"a","plan":{"steps":[],"notes":1}}]})").empty());
}

TEST_CASE("Type errors name the path into the document", "[schema]") {
  JsonSchema s(idea_schema);
  CHECK(check(s, R"({"ideas":[{"title":"a","plan":{"steps":[]}},{"title":"b","plan":{"steps":"do it"}}]})") ==
        "$.ideas[1].plan.steps: expected array, got string");
  CHECK(check(s, R"({"ideas":[{"title":7,"plan":{"steps":[]}}]})") == "$.ideas[0].title: expected string, got integer");
  CHECK(check(s, R"({"ideas":[{"title":"a","plan":{"steps":[1]}}]})") == "$.ideas[0].plan.steps[0]: expected string, got integer");
  CHECK(check(s, R"([1])") == "$: expected object, got array");
}

TEST_CASE("required, additionalProperties, enum, bounds and item counts", "[schema]") {
  JsonSchema s(idea_schema);
  CHECK(check(s, R"({})") == "$.ideas: required property is missing");
  CHECK(check(s, R"({"ideas":[{"title":"a"}]})") == "$.ideas[0].plan: required property is missing");
  CHECK(check(s, R"({"ideas":[{"title":"a","plan":{"steps":[]},"extra":true}]})") ==
        "$.ideas[0].extra: unexpected property (allowed: title, score, kind, plan)");
  CHECK(check(s, R"({"ideas":[{"title":"a","plan":{"steps":[]},"kind":"old"}]})") ==
        R"($.ideas[0].kind: expected one of ["new","refined"], got "old")");
  CHECK(check(s, R"({"ideas":[{"title":"a","plan":{"steps":[]},"score":6}]})") == "$.ideas[0].score: 6 is greater than the maximum 5");
  CHECK(check(s, R"({"ideas":[{"title":"a","plan":{"steps":[]},"score":0}]})") == "$.ideas[0].score: 0 is less than the minimum 1");
  CHECK(check(s, R"({"ideas":[]})") == "$.ideas: expected at least 1 items, got 0");
  std::string four = R"({"title":"a","plan":{"steps":[]}})";
  CHECK(check(s, "{\"ideas\":[" + four + "," + four + "," + four + "," + four + "]}") == "$.ideas: expected at most 3 items, got 4");
}

TEST_CASE("integer and number follow JSON Schema, and type may be a list", "[schema]") {
  JsonSchema integer(R"({"type":"integer"})"), number(R"({"type":"number","minimum":0.5})"),
      either(R"({"type":["string","null"]})");
  CHECK(check(integer, "3").empty());
  CHECK(check(integer, "3.0").empty());  // 3.0 is an integer in JSON Schema
  CHECK(check(integer, "3.5") == "$: expected integer, got number");
  CHECK(check(integer, "true") == "$: expected integer, got boolean");
  CHECK(check(number, "3").empty());
  CHECK(check(number, "0.25") == "$: 0.25 is less than the minimum 0.5");
  CHECK(check(either, "null").empty());
  CHECK(check(either, R"("x")").empty());
  CHECK(check(either, "1") == "$: expected string or null, got integer");
}

TEST_CASE("additionalProperties as a schema checks the extra members, and odd keys are quoted", "[schema]") {
  JsonSchema s(R"({"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":{"type":"integer"}})");
  CHECK(check(s, R"({"a":"x","b":1,"c":2})").empty());
  CHECK(check(s, R"({"a":"x","my key":"no"})") == R"($["my key"]: expected integer, got string)");
}

TEST_CASE("A schema that is not a JSON object is a caller error", "[schema]") {
  CHECK_THROWS_AS(JsonSchema("{not json"), mlrc::Error);
  try {
    JsonSchema bad("[1]");
    FAIL("accepted an array schema");
  } catch (const mlrc::Error& e) {
    CHECK(e.code_enum() == mlrc::errc::invalid_argument);
  }
  JsonSchema ok(R"({ "type" : "object" })");
  CHECK(ok.text() == R"({"type":"object"})");
}

TEST_CASE("The JSON object is found inside fences and prose", "[schema]") {
  CHECK(extract_json_object(R"({"a":1})") == R"({"a":1})");
  CHECK(extract_json_object("```json\n{\"a\": {\"b\": 2}}\n```") == R"({"a": {"b": 2}})");
  CHECK(extract_json_object("Sure! Here it is: {\"a\":1} Hope that helps.") == R"({"a":1})");
  CHECK(extract_json_object("no json here") == "no json here");
  CHECK(extract_json_object("} backwards {") == "} backwards {");
}
