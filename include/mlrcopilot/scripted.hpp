#pragma once
/** @file scripted.hpp
 *  `ScriptedModel`: answers from a script instead of an LLM — for tests and offline demos, and
 *  always labelled as scripted (`describe()` is "scripted:NAME"). The spec `scripted:PATH` makes
 *  one from a JSON file through `make_model`.
 *
 *  Script file: {"turns": [{"text": "...", "tool_calls": [{"id": "...", "name": "...",
 *  "arguments": {...} or "json text"}], "usage": {"input": N, "output": N, "cached": N},
 *  "expect": "substring"}, ...]}. `expect`, if given, must occur in the request's last message:
 *  a script that drifted from the conversation fails loudly instead of answering nonsense. */

#include <mlrcopilot/model.hpp>

#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

namespace mlrc {
inline namespace v1 {

/** One scripted reply. */
struct ScriptTurn {
  std::string text;
  std::vector<ToolCall> tool_calls;
  Usage usage{};
  std::string expect;  ///< substring the request's last message must contain ("" = anything)
};

/** Replies with the turns in order. Thread-safe; each call takes the next turn. */
class ScriptedModel final : public Model {
 public:
  explicit ScriptedModel(std::vector<ScriptTurn> turns, std::string name = "script");
  /** Loads a script file; Error(errc::parse) names the file and the field that is wrong. */
  static std::shared_ptr<ScriptedModel> from_file(const std::filesystem::path& path);
  /** Parses script JSON text; `origin` names it in errors. */
  static std::vector<ScriptTurn> parse(std::string_view json, const std::string& origin);

  boost::asio::awaitable<ChatResponse> chat(ChatRequest req, StreamObserver* observer = nullptr) override;
  boost::asio::awaitable<void> check() override;
  std::string describe() const override { return "scripted:" + name_; }
  /** Marks the first `n` turns as used (a resumed session replays those from its run store). */
  void skip(std::size_t n);
  /** Turns used so far / in total. */
  std::size_t used() const;
  std::size_t size() const noexcept { return turns_.size(); }

 private:
  std::vector<ScriptTurn> turns_;
  std::string name_;
  mutable std::mutex mu_;
  std::size_t next_ = 0;
};

}  // namespace v1
}  // namespace mlrc
