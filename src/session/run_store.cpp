#include "session/run_store.hpp"

#include <sqlite3.h>

namespace mlrc::detail {

namespace {
struct Stmt {
  sqlite3_stmt* s = nullptr;
  Stmt(sqlite3* db, const char* sql, const std::filesystem::path& file) {
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK)
      throw Error(errc::io, "run store " + file.string() + ": " + sqlite3_errmsg(db));
  }
  ~Stmt() { sqlite3_finalize(s); }
  Stmt& text(int i, const std::string& v) {
    sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& num(int i, std::int64_t v) {
    sqlite3_bind_int64(s, i, v);
    return *this;
  }
  std::string col(int i) const {
    auto* p = sqlite3_column_text(s, i);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(s, i))) : std::string();
  }
};
}  // namespace

RunStore::RunStore(const std::filesystem::path& file) : file_(file) {
  if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw Error(errc::io, "cannot open run store " + file.string() + ": " + msg);
  }
  sqlite3_busy_timeout(db_, 5000);
  exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
       "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
       "CREATE TABLE IF NOT EXISTS calls(seq INTEGER PRIMARY KEY, phase TEXT, request_hash TEXT, response TEXT,"
       " input INTEGER, output INTEGER, cached INTEGER);"
       "CREATE TABLE IF NOT EXISTS steps(idx INTEGER PRIMARY KEY, turn INTEGER, step TEXT NOT NULL);"
       "CREATE TABLE IF NOT EXISTS events(seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT, json TEXT, at TEXT DEFAULT CURRENT_TIMESTAMP);");
}

RunStore::~RunStore() { sqlite3_close(db_); }

void RunStore::exec(const std::string& sql) const {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw Error(errc::io, "run store " + file_.string() + ": " + msg);
  }
}

void RunStore::set(const std::string& key, const std::string& value) {
  std::lock_guard lk(mu_);
  Stmt st(db_, "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", file_);
  st.text(1, key).text(2, value);
  if (sqlite3_step(st.s) != SQLITE_DONE) throw Error(errc::io, "run store " + file_.string() + ": " + sqlite3_errmsg(db_));
}

std::optional<std::string> RunStore::get(const std::string& key) const {
  std::lock_guard lk(mu_);
  Stmt st(db_, "SELECT value FROM meta WHERE key = ?", file_);
  st.text(1, key);
  if (sqlite3_step(st.s) == SQLITE_ROW) return st.col(0);
  return std::nullopt;
}

void RunStore::add_call(std::int64_t seq, const std::string& phase, const std::string& hash, const std::string& response, const Usage& u) {
  std::lock_guard lk(mu_);
  Stmt st(db_, "INSERT OR REPLACE INTO calls(seq, phase, request_hash, response, input, output, cached) VALUES(?,?,?,?,?,?,?)", file_);
  st.num(1, seq).text(2, phase).text(3, hash).text(4, response).num(5, u.input_tokens).num(6, u.output_tokens).num(7, u.cached_input_tokens);
  if (sqlite3_step(st.s) != SQLITE_DONE) throw Error(errc::io, "run store " + file_.string() + ": " + sqlite3_errmsg(db_));
}

std::vector<RunStore::Call> RunStore::calls() const {
  std::lock_guard lk(mu_);
  Stmt st(db_, "SELECT seq, phase, request_hash, response FROM calls ORDER BY seq", file_);
  std::vector<Call> out;
  while (sqlite3_step(st.s) == SQLITE_ROW) out.push_back({sqlite3_column_int64(st.s, 0), st.col(1), st.col(2), st.col(3)});
  return out;
}

void RunStore::add_step(int index, int turn, const std::string& step_json) {
  std::lock_guard lk(mu_);
  Stmt st(db_, "INSERT OR REPLACE INTO steps(idx, turn, step) VALUES(?,?,?)", file_);
  st.num(1, index).num(2, turn).text(3, step_json);
  if (sqlite3_step(st.s) != SQLITE_DONE) throw Error(errc::io, "run store " + file_.string() + ": " + sqlite3_errmsg(db_));
}

std::vector<std::string> RunStore::steps() const {
  std::lock_guard lk(mu_);
  Stmt st(db_, "SELECT step FROM steps ORDER BY idx", file_);
  std::vector<std::string> out;
  while (sqlite3_step(st.s) == SQLITE_ROW) out.push_back(st.col(0));
  return out;
}

void RunStore::add_event(const std::string& kind, const std::string& json) {
  std::lock_guard lk(mu_);
  Stmt st(db_, "INSERT INTO events(kind, json) VALUES(?, ?)", file_);
  st.text(1, kind).text(2, json);
  if (sqlite3_step(st.s) != SQLITE_DONE) throw Error(errc::io, "run store " + file_.string() + ": " + sqlite3_errmsg(db_));
}

std::vector<std::pair<std::string, std::string>> RunStore::events() const {
  std::lock_guard lk(mu_);
  Stmt st(db_, "SELECT kind, json FROM events ORDER BY seq", file_);
  std::vector<std::pair<std::string, std::string>> out;
  while (sqlite3_step(st.s) == SQLITE_ROW) out.emplace_back(st.col(0), st.col(1));
  return out;
}

std::vector<RunStore::UsageRow> RunStore::usage_by_phase() const {
  std::lock_guard lk(mu_);
  Stmt st(db_, "SELECT phase, COUNT(*), SUM(input), SUM(output), SUM(cached) FROM calls GROUP BY phase ORDER BY MIN(seq)", file_);
  std::vector<UsageRow> out;
  while (sqlite3_step(st.s) == SQLITE_ROW)
    out.push_back({st.col(0), sqlite3_column_int64(st.s, 1), sqlite3_column_int64(st.s, 2), sqlite3_column_int64(st.s, 3),
                   sqlite3_column_int64(st.s, 4)});
  return out;
}

}  // namespace mlrc::detail
