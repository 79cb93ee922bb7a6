#pragma once
// The run store: one SQLite database (WAL) per run holding everything needed to report on it and
// to resume it after a crash: metadata, LLM calls (request hash + response), agent steps, ideas,
// reviews, and events. Every write is a short transaction, so a process killed at any point
// leaves the last committed state intact.
#include <mlrcopilot/agent.hpp>
#include <mlrcopilot/error.hpp>
#include <mlrcopilot/model.hpp>

#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace mlrc::detail {

class RunStore {
 public:
  explicit RunStore(const std::filesystem::path& db_file);
  ~RunStore();
  RunStore(const RunStore&) = delete;
  RunStore& operator=(const RunStore&) = delete;

  // Key/value metadata (status, config, chosen idea, phase markers …).
  void set(const std::string& key, const std::string& value);
  std::optional<std::string> get(const std::string& key) const;

  // LLM calls in order. `seq` starts at 0.
  void add_call(std::int64_t seq, const std::string& phase, const std::string& request_hash, const std::string& response_json,
                const Usage& usage);
  struct Call {
    std::int64_t seq;
    std::string phase, request_hash, response_json;
  };
  std::vector<Call> calls() const;

  // Agent steps (AgentStep as JSON) keyed by index.
  void add_step(int index, int turn, const std::string& step_json);
  std::vector<std::string> steps() const;  // ordered by index

  void add_event(const std::string& kind, const std::string& json);
  std::vector<std::pair<std::string, std::string>> events() const;

  struct UsageRow {
    std::string phase;
    std::int64_t calls, input, output, cached;
  };
  std::vector<UsageRow> usage_by_phase() const;

 private:
  void exec(const std::string& sql) const;
  sqlite3* db_ = nullptr;
  std::filesystem::path file_;
  mutable std::mutex mu_;
};

}  // namespace mlrc::detail
