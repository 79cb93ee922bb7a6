// The MLAgentBench text format (sans-io): a reply with the sections Reflection, Research Plan and
// Status, Fact Check, Thought, Action, Action Input. Tested directly in tests/unit/test_agent_text.cpp.
#include <mlrcopilot/agent.hpp>
#include <mlrcopilot/error.hpp>

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <vector>

namespace mlrc {
inline namespace v1 {
namespace detail {

namespace {

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

// Header names in the order MLAgentBench uses; matched case-insensitively at a line start,
// optionally wrapped in ** or prefixed by '#'.
constexpr std::string_view kHeaders[] = {"reflection", "research plan and status", "fact check", "thought", "action input", "action"};

}  // namespace

TextAction parse_text_action(std::string_view reply) {
  // Split into (header, body) by scanning lines.
  std::vector<std::pair<std::string, std::string>> sections;
  std::size_t pos = 0;
  while (pos <= reply.size()) {
    auto nl = reply.find('\n', pos);
    std::string_view line = reply.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    std::string l = lower(trim(line));
    while (!l.empty() && (l[0] == '#' || l[0] == '*' || l[0] == ' ')) l.erase(0, 1);
    bool matched = false;
    for (auto h : kHeaders) {
      if (l.rfind(h, 0) == 0) {
        std::string rest = l.substr(h.size());
        while (!rest.empty() && rest[0] == '*') rest.erase(0, 1);
        if (rest.empty() || rest[0] != ':') continue;
        // Body starts after the first ':' in the original line.
        auto colon = line.find(':');
        std::string body(line.substr(colon + 1));
        while (!body.empty() && body[0] == '*') body.erase(0, 1);
        sections.emplace_back(std::string(h), body);
        matched = true;
        break;
      }
    }
    if (!matched && !sections.empty()) sections.back().second += "\n" + std::string(line);
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  TextAction a;
  for (auto& [h, body] : sections) {
    std::string b = trim(body);
    if (h == "reflection") a.reflection = b;
    else if (h == "research plan and status") a.plan = b;
    else if (h == "fact check") a.fact_check = b;
    else if (h == "thought") a.thought = b;
    else if (h == "action") a.action = b;
    else if (h == "action input") a.action_input = b;
  }
  // The action name: first word, without quotes or backticks.
  a.action.erase(std::remove_if(a.action.begin(), a.action.end(), [](char c) { return c == '`' || c == '"' || c == '\''; }), a.action.end());
  a.action = trim(a.action.substr(0, a.action.find('\n')));
  if (a.action.empty())
    throw Error(errc::parse, "the reply has no 'Action:' line; end every reply with 'Action: <tool name>' and 'Action Input: <JSON object>'");
  std::string input = trim(a.action_input);
  // Strip a markdown code fence.
  if (input.rfind("```", 0) == 0) {
    auto first_nl = input.find('\n');
    auto fence_end = input.rfind("```");
    input = trim(first_nl == std::string::npos || fence_end <= first_nl ? std::string() : input.substr(first_nl + 1, fence_end - first_nl - 1));
  }
  if (input.empty()) input = "{}";
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.parse(input).get(doc))
    throw Error(errc::parse, "'Action Input' for " + a.action + " is not valid JSON (" + simdjson::error_message(err) +
                                 "); give a JSON object such as {\"path\": \"train.py\"}");
  if (!doc.is_object()) throw Error(errc::parse, "'Action Input' for " + a.action + " must be a JSON object, not " + input.substr(0, 80));
  a.action_input = simdjson::minify(doc);
  return a;
}

std::string cut_middle(const std::string& text, std::size_t head, std::size_t tail) {
  if (text.size() <= head + tail + 64) return text;
  return text.substr(0, head) + "\n[… " + std::to_string(text.size() - head - tail) + " bytes cut …]\n" + text.substr(text.size() - tail);
}

}  // namespace detail
}  // namespace v1
}  // namespace mlrc
