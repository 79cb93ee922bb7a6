#include <mlrcopilot/error.hpp>
#include <mlrcopilot/scripted.hpp>

#include <simdjson.h>

#include <algorithm>
#include <fstream>

namespace mlrc {
inline namespace v1 {

ScriptedModel::ScriptedModel(std::vector<ScriptTurn> turns, std::string name) : turns_(std::move(turns)), name_(std::move(name)) {}

std::vector<ScriptTurn> ScriptedModel::parse(std::string_view json, const std::string& origin) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.parse(json.data(), json.size()).get(doc))
    throw Error(errc::parse, origin + ": not JSON (" + simdjson::error_message(err) + ")");
  simdjson::dom::array turns;
  if (doc["turns"].get_array().get(turns)) throw Error(errc::parse, origin + ": field 'turns' (an array) is missing");
  std::vector<ScriptTurn> out;
  std::size_t i = 0;
  for (auto t : turns) {
    std::string where = origin + ": turns[" + std::to_string(i++) + "]";
    if (!t.is_object()) throw Error(errc::parse, where + " must be an object");
    ScriptTurn turn;
    std::string_view s;
    if (!t["text"].get_string().get(s)) turn.text = std::string(s);
    if (!t["expect"].get_string().get(s)) turn.expect = std::string(s);
    simdjson::dom::array calls;
    if (!t["tool_calls"].get_array().get(calls)) {
      std::size_t k = 0;
      for (auto c : calls) {
        std::string cw = where + ".tool_calls[" + std::to_string(k) + "]";
        ToolCall call;
        if (c["name"].get_string().get(s)) throw Error(errc::parse, cw + ".name is missing");
        call.name = std::string(s);
        call.id = !c["id"].get_string().get(s) ? std::string(s) : "call_" + std::to_string(i) + "_" + std::to_string(k);
        simdjson::dom::element args;
        if (c["arguments"].get(args)) call.arguments = "{}";
        else if (args.is_string()) call.arguments = std::string(args.get_string().value());
        else if (args.is_object()) call.arguments = simdjson::minify(args);
        else throw Error(errc::parse, cw + ".arguments must be an object or a JSON string");
        turn.tool_calls.push_back(std::move(call));
        ++k;
      }
    }
    simdjson::dom::object usage;
    if (!t["usage"].get_object().get(usage)) {
      std::int64_t n;
      if (!usage["input"].get_int64().get(n)) turn.usage.input_tokens = n;
      if (!usage["output"].get_int64().get(n)) turn.usage.output_tokens = n;
      if (!usage["cached"].get_int64().get(n)) turn.usage.cached_input_tokens = n;
    }
    out.push_back(std::move(turn));
  }
  return out;
}

std::shared_ptr<ScriptedModel> ScriptedModel::from_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(errc::io, "cannot read model script " + path.string());
  std::string text((std::istreambuf_iterator<char>(in)), {});
  return std::make_shared<ScriptedModel>(parse(text, path.string()), path.stem().string());
}

void ScriptedModel::skip(std::size_t n) {
  std::lock_guard lk(mu_);
  next_ = std::max(next_, std::min(n, turns_.size()));
}

std::size_t ScriptedModel::used() const {
  std::lock_guard lk(mu_);
  return next_;
}

boost::asio::awaitable<ChatResponse> ScriptedModel::chat(ChatRequest req, StreamObserver* observer) {
  ScriptTurn turn;
  std::size_t index;
  {
    std::lock_guard lk(mu_);
    if (next_ >= turns_.size())
      throw Error(errc::not_found, describe() + ": the script has " + std::to_string(turns_.size()) +
                                       " turns and all were used (the conversation went further than scripted)");
    index = next_++;
    turn = turns_[index];
  }
  if (!turn.expect.empty()) {
    const std::string last = req.messages.empty() ? std::string() : req.messages.back().content;
    if (last.find(turn.expect) == std::string::npos)
      throw Error(errc::protocol, describe() + ": turn " + std::to_string(index) + " expected the last message to contain \"" +
                                      turn.expect + "\" but it was: \"" + last.substr(0, 300) + "\"");
  }
  ChatResponse r;
  r.id = "scripted-" + std::to_string(index);
  r.model = describe();
  r.text = turn.text;
  r.tool_calls = turn.tool_calls;
  r.finish_reason = turn.tool_calls.empty() ? "stop" : "tool_calls";
  r.usage = turn.usage;
  if (r.usage.input_tokens == 0) {
    // Estimate like a tokenizer would (4 characters a token) so budgets and reports stay meaningful.
    std::size_t chars = 0;
    for (auto& m : req.messages) chars += m.content.size();
    r.usage.input_tokens = static_cast<std::int64_t>(chars / 4 + 1);
  }
  if (r.usage.output_tokens == 0) r.usage.output_tokens = static_cast<std::int64_t>(turn.text.size() / 4 + 1);
  if (req.stream && observer) {
    if (!r.text.empty()) observer->on_text(r.text);
    for (std::size_t i = 0; i < r.tool_calls.size(); ++i)
      observer->on_tool_call_delta(i, r.tool_calls[i].id, r.tool_calls[i].name, r.tool_calls[i].arguments);
  }
  co_return r;
}

boost::asio::awaitable<void> ScriptedModel::check() { co_return; }

}  // namespace v1
}  // namespace mlrc
