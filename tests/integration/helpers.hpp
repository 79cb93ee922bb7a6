#pragma once
// Shared bits for the integration tests: a runtime per test, error capture, temp files.
#include <mlrcopilot/error.hpp>
#include <mlrcopilot/model.hpp>
#include <mlrcopilot/runtime.hpp>

#include "temp_dir.hpp"
#include "test_util.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace mlrc::test {


// Collects what a streamed reply delivered.
class Collect : public StreamObserver {
 public:
  std::string text;
  std::vector<std::string> deltas;
  std::map<std::size_t, std::string> tool_args;
  std::map<std::size_t, std::string> tool_names;
  std::size_t tool_fragments = 0;
  std::function<void()> on_first;  // called once, on the first text delta
  void on_text(std::string_view d) override {
    text += d;
    deltas.emplace_back(d);
    if (on_first) std::exchange(on_first, nullptr)();
  }
  void on_tool_call_delta(std::size_t i, std::string_view, std::string_view name, std::string_view frag) override {
    if (!name.empty()) tool_names[i] = name;
    tool_args[i] += frag;
    ++tool_fragments;
  }
};


inline std::string read_file(const std::string& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), {}};
}

// Sets an environment variable for the scope of a test.
struct ScopedEnv {
  std::string name;
  std::optional<std::string> old;
  ScopedEnv(std::string n, const std::string& value) : name(std::move(n)) {
    if (const char* v = std::getenv(name.c_str())) old = v;
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old) ::setenv(name.c_str(), old->c_str(), 1);
    else ::unsetenv(name.c_str());
  }
};

inline ChatRequest simple_request(std::string prompt = "hello", bool stream = false) {
  ChatRequest r;
  r.messages.push_back(Message::system("You are terse."));
  r.messages.push_back(Message::user(std::move(prompt)));
  r.stream = stream;
  r.timeout = std::chrono::seconds(20);
  return r;
}

}  // namespace mlrc::test
