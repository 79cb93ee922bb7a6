// Middleware models: retry, rate limit, accounting/budget, cassettes.
#include <mlrcopilot/json.hpp>
#include <mlrcopilot/middleware.hpp>
#include <mlrcopilot/error.hpp>

#include "net/retry.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include <fcntl.h>
#include <unistd.h>

namespace mlrc {
inline namespace v1 {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

using detail::async_sleep;

// ---------------------------------------------------------------------------------------------
// Retry (the rules live in net/retry.hpp, shared with the online retrievers)

class RetryModel final : public Model {
 public:
  RetryModel(ModelPtr inner, RetryPolicy p) : inner_(std::move(inner)), p_(p), backoff_(p) {
    if (!inner_) throw Error(errc::invalid_argument, "with_retry: inner model is null");
    if (p_.max_attempts < 1) throw Error(errc::invalid_argument, "with_retry: max_attempts must be at least 1");
  }
  std::string describe() const override { return inner_->describe(); }
  asio::awaitable<void> check() override { return inner_->check(); }

  asio::awaitable<ChatResponse> chat(ChatRequest req, StreamObserver* obs) override {
    const bool bounded = req.timeout.count() > 0;
    const auto deadline = clock::now() + req.timeout;
    for (int attempt = 1;; ++attempt) {
      ChatRequest r = req;
      if (bounded) {
        auto left = std::chrono::duration_cast<milliseconds>(deadline - clock::now());
        if (left.count() <= 0) throw Error(errc::timeout, describe() + ": deadline passed before attempt " + std::to_string(attempt));
        r.timeout = left;
      }
      std::optional<Error> failure;
      try {
        ChatResponse resp = co_await inner_->chat(std::move(r), obs);
        resp.attempts = attempt;
        co_return resp;
      } catch (const Error& e) {
        failure = e;
      }
      clock::duration wait{};
      if (auto give_up = detail::plan_retry(*failure, attempt, p_, backoff_,
                                            bounded ? std::optional(deadline) : std::nullopt, wait))
        throw *give_up;
      co_await async_sleep(wait);
    }
  }

 private:
  ModelPtr inner_;
  RetryPolicy p_;
  detail::Backoff backoff_;
};

// ---------------------------------------------------------------------------------------------
// Rate limit: token buckets that may go into debt; a request waits until its debt is repaid.

using Bucket = detail::TokenBucket;

double estimate_tokens(const ChatRequest& r) {
  std::size_t chars = 0;
  for (auto& m : r.messages) {
    chars += m.content.size() + 8;
    for (auto& c : m.tool_calls) chars += c.arguments.size() + c.name.size();
  }
  for (auto& t : r.tools) chars += t.parameters_schema.size() + t.description.size() + t.name.size();
  return static_cast<double>(chars) / 4.0 + static_cast<double>(r.max_tokens.value_or(256));
}

class RateLimitModel final : public Model {
 public:
  RateLimitModel(ModelPtr inner, RateLimit l) : inner_(std::move(inner)), requests_(l.requests_per_minute, l.burst_seconds), tokens_(l.tokens_per_minute, l.burst_seconds) {
    if (!inner_) throw Error(errc::invalid_argument, "with_rate_limit: inner model is null");
    if (l.requests_per_minute < 0 || l.tokens_per_minute < 0 || l.burst_seconds <= 0) throw Error(errc::invalid_argument, "with_rate_limit: limits must be >= 0 and burst_seconds > 0");
  }
  std::string describe() const override { return inner_->describe(); }
  asio::awaitable<void> check() override { return inner_->check(); }
  asio::awaitable<ChatResponse> chat(ChatRequest req, StreamObserver* obs) override {
    double est = estimate_tokens(req);
    clock::duration wait{0};
    if (requests_.enabled()) wait = std::max(wait, requests_.take(1));
    if (tokens_.enabled()) wait = std::max(wait, tokens_.take(est));
    if (wait > clock::duration::zero() && req.timeout.count() > 0 && wait >= req.timeout) {
      // The request's own deadline passes before its slot: fail now, as the online sources do.
      if (requests_.enabled()) requests_.give_back(1);
      if (tokens_.enabled()) tokens_.give_back(est);
      Error e(errc::rate_limited, "client-side rate limit: the next slot is " +
                                      std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(wait).count()) +
                                      " ms away, beyond the request's timeout of " + std::to_string(req.timeout.count()) + " ms");
      e.retry_after = std::chrono::duration_cast<std::chrono::milliseconds>(wait);
      throw e;
    }
    if (wait > clock::duration::zero()) co_await async_sleep(wait);
    ChatResponse resp = co_await inner_->chat(std::move(req), obs);
    if (tokens_.enabled()) {
      double actual = static_cast<double>(resp.usage.total());
      if (actual > est) tokens_.take(actual - est);
      else tokens_.give_back(est - actual);
    }
    co_return resp;
  }

 private:
  ModelPtr inner_;
  Bucket requests_, tokens_;
};

// ---------------------------------------------------------------------------------------------
// Accounting

class AccountingModel final : public Model {
 public:
  AccountingModel(ModelPtr inner, std::shared_ptr<Ledger> ledger, PriceTable prices, Budget budget)
      : inner_(std::move(inner)), ledger_(std::move(ledger)), prices_(std::move(prices)), budget_(budget) {
    if (!inner_ || !ledger_) throw Error(errc::invalid_argument, "with_accounting: inner model and ledger must not be null");
  }
  std::string describe() const override { return inner_->describe(); }
  asio::awaitable<void> check() override { return inner_->check(); }
  asio::awaitable<ChatResponse> chat(ChatRequest req, StreamObserver* obs) override {
    ledger_->check(budget_);
    std::string req_model = req.model;
    ChatResponse resp = co_await inner_->chat(std::move(req), obs);
    // Price by the model that answered ("gpt-4o-2024-08-06"), else by the one we asked for.
    std::string priced = prices_.find(resp.model) ? resp.model : (req_model.empty() ? inner_->describe() : req_model);
    resp.cost_usd = prices_.cost(priced, resp.usage);
    ledger_->record(resp.model, resp.usage, resp.cost_usd);
    co_return resp;
  }

 private:
  ModelPtr inner_;
  std::shared_ptr<Ledger> ledger_;
  PriceTable prices_;
  Budget budget_;
};

// ---------------------------------------------------------------------------------------------
// Cassettes

class CassetteModel final : public Model {
 public:
  CassetteModel(ModelPtr inner, std::string path, CassetteMode mode) : inner_(std::move(inner)), path_(std::move(path)), mode_(mode) {
    if (mode_ != CassetteMode::replay && !inner_)
      throw Error(errc::invalid_argument, "with_cassette: recording needs an inner model");
    load();
  }
  std::string describe() const override { return inner_ ? inner_->describe() : "replay:" + path_; }
  asio::awaitable<void> check() override {
    if (mode_ == CassetteMode::replay) co_return;  // nothing to reach
    co_await inner_->check();
  }

  asio::awaitable<ChatResponse> chat(ChatRequest req, StreamObserver* obs) override {
    const std::string key = request_hash(req);
    if (mode_ != CassetteMode::record) {
      if (auto hit = lookup(key)) {
        ChatResponse resp = *hit;
        resp.from_cassette = true;
        resp.overhead = {};
        if (req.stream && obs) {
          if (!resp.text.empty()) obs->on_text(resp.text);
          for (std::size_t i = 0; i < resp.tool_calls.size(); ++i)
            obs->on_tool_call_delta(i, resp.tool_calls[i].id, resp.tool_calls[i].name, resp.tool_calls[i].arguments);
        }
        co_return resp;
      }
      if (mode_ == CassetteMode::replay) {
        std::string last_user;
        for (auto it = req.messages.rbegin(); it != req.messages.rend(); ++it)
          if (it->role == Role::user) {
            last_user = it->content.substr(0, 80);
            break;
          }
        throw Error(errc::not_found, "cassette " + path_ + " has no recording of request " + key.substr(0, 16) +
                                         " (" + std::to_string(req.messages.size()) + " messages, last user message: \"" +
                                         last_user + "\")");
      }
    }
    std::string canonical = canonical_request_json(req);
    ChatResponse resp = co_await inner_->chat(std::move(req), obs);
    append(key, canonical, resp);
    co_return resp;
  }

 private:
  std::optional<ChatResponse> lookup(const std::string& key) {
    std::lock_guard lk(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.responses.empty()) return std::nullopt;
    auto& e = it->second;
    std::size_t i = std::min(e.next, e.responses.size() - 1);
    if (e.next < e.responses.size()) ++e.next;
    return e.responses[i];
  }

  void load() {
    std::ifstream in(path_);
    if (!in) {
      if (mode_ == CassetteMode::replay) throw Error(errc::io, "cannot open cassette '" + path_ + "' for replay");
      return;  // recording into a new file
    }
    simdjson::dom::parser parser;
    std::string line;
    for (std::size_t n = 1; std::getline(in, line); ++n) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      auto where = [&] { return "cassette " + path_ + " line " + std::to_string(n); };
      simdjson::dom::element doc;
      if (auto err = parser.parse(line).get(doc)) throw Error(errc::parse, where() + ": not JSON (" + simdjson::error_message(err) + ")");
      std::string_view key;
      simdjson::dom::element resp;
      if (doc["key"].get_string().get(key)) throw Error(errc::parse, where() + ": missing string field 'key'");
      if (doc["response"].get(resp)) throw Error(errc::parse, where() + ": missing field 'response'");
      try {
        entries_[std::string(key)].responses.push_back(chat_response_from_json(simdjson::minify(resp)));
      } catch (const Error& e) {
        throw Error(errc::parse, where() + ": " + e.what());
      }
    }
  }

  void append(const std::string& key, const std::string& canonical_request, const ChatResponse& resp) {
    boost::json::object line;
    line["key"] = key;
    line["request"] = boost::json::parse(canonical_request);
    line["response"] = boost::json::parse(to_json(resp));
    std::string text = boost::json::serialize(line) + "\n";
    std::lock_guard lk(mu_);
    // O_APPEND + one write per line: concurrent writers never interleave within a line, and a
    // crash leaves at most one partial last line.
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) throw Error(errc::io, "cannot open cassette '" + path_ + "' for writing");
    ssize_t w = ::write(fd, text.data(), text.size());
    ::close(fd);
    if (w != static_cast<ssize_t>(text.size())) throw Error(errc::io, "short write to cassette '" + path_ + "'");
    entries_[key].responses.push_back(resp);
    entries_[key].next = entries_[key].responses.size();
  }

  struct Entry {
    std::vector<ChatResponse> responses;
    std::size_t next = 0;
  };
  ModelPtr inner_;
  std::string path_;
  CassetteMode mode_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace

ModelPtr with_retry(ModelPtr inner, RetryPolicy policy) { return std::make_shared<RetryModel>(std::move(inner), policy); }
ModelPtr with_rate_limit(ModelPtr inner, RateLimit limit) { return std::make_shared<RateLimitModel>(std::move(inner), limit); }
ModelPtr with_accounting(ModelPtr inner, std::shared_ptr<Ledger> ledger, PriceTable prices, Budget budget) {
  return std::make_shared<AccountingModel>(std::move(inner), std::move(ledger), std::move(prices), budget);
}
ModelPtr with_cassette(ModelPtr inner, std::string path, CassetteMode mode) {
  return std::make_shared<CassetteModel>(std::move(inner), std::move(path), mode);
}

// ---------------------------------------------------------------------------------------------
// Prices and the ledger

void PriceTable::set(std::string pattern, Price p) { prices_[std::move(pattern)] = p; }

std::optional<Price> PriceTable::find(std::string_view model) const {
  // Strip a provider prefix ("openai:gpt-4o").
  if (auto c = model.find(':'); c != std::string_view::npos && model.find('/') == std::string_view::npos) model.remove_prefix(c + 1);
  std::optional<Price> best;
  std::size_t best_len = 0;
  for (auto& [pat, price] : prices_) {
    bool prefix = !pat.empty() && pat.back() == '*';
    std::string_view stem(pat.data(), prefix ? pat.size() - 1 : pat.size());
    bool match = prefix ? model.starts_with(stem) : model == stem;
    std::size_t len = stem.size() + (prefix ? 0 : 1);  // an exact name beats a prefix of equal stem
    if (match && (!best || len > best_len)) best = price, best_len = len;
  }
  return best;
}

double PriceTable::cost(std::string_view model, const Usage& u) const {
  auto p = find(model);
  if (!p) return 0;
  double cached_price = p->cached_input_per_mtok >= 0 ? p->cached_input_per_mtok : p->input_per_mtok;
  double write_price = p->cache_write_per_mtok >= 0 ? p->cache_write_per_mtok : p->input_per_mtok;
  auto plain_in = std::max<std::int64_t>(0, u.input_tokens - u.cached_input_tokens - u.cache_write_tokens);
  return (static_cast<double>(plain_in) * p->input_per_mtok + static_cast<double>(u.cached_input_tokens) * cached_price +
          static_cast<double>(u.cache_write_tokens) * write_price + static_cast<double>(u.output_tokens) * p->output_per_mtok) /
         1e6;
}

PriceTable PriceTable::defaults() {
  // List prices in USD per million tokens as published by the providers (late 2025). They change:
  // pass your own table for real accounting.
  PriceTable t;
  t.set("gpt-4o*", {2.50, 10.00, 1.25, -1});
  t.set("gpt-4o-mini*", {0.15, 0.60, 0.075, -1});
  t.set("gpt-4.1*", {2.00, 8.00, 0.50, -1});
  t.set("gpt-4.1-mini*", {0.40, 1.60, 0.10, -1});
  t.set("gpt-5*", {1.25, 10.00, 0.125, -1});
  t.set("o3*", {2.00, 8.00, 0.50, -1});
  t.set("claude-sonnet-4*", {3.00, 15.00, 0.30, 3.75});
  t.set("claude-opus-4*", {15.00, 75.00, 1.50, 18.75});
  t.set("claude-haiku-4*", {1.00, 5.00, 0.10, 1.25});
  t.set("claude-3-5-haiku*", {0.80, 4.00, 0.08, 1.00});
  return t;
}

PriceTable PriceTable::from_json(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.parse(json.data(), json.size()).get(doc))
    throw Error(errc::parse, std::string("price table: not JSON (") + simdjson::error_message(err) + ")");
  simdjson::dom::object obj;
  if (doc.get_object().get(obj)) throw Error(errc::parse, "price table: expected an object of model -> prices");
  PriceTable t;
  for (auto [k, v] : obj) {
    Price p;
    auto num = [&](const char* field, double& out, bool required) {
      double d;
      auto e = v[field];
      if (e.error() == simdjson::NO_SUCH_FIELD) {
        if (required) throw Error(errc::parse, "price table entry '" + std::string(k) + "': missing field '" + field + "'");
        return;
      }
      if (e.get_double().get(d) || d < 0)
        throw Error(errc::parse, "price table entry '" + std::string(k) + "': field '" + field + "' must be a number >= 0");
      out = d;
    };
    if (!v.is_object()) throw Error(errc::parse, "price table entry '" + std::string(k) + "': expected an object");
    num("input", p.input_per_mtok, true);
    num("output", p.output_per_mtok, true);
    num("cached_input", p.cached_input_per_mtok, false);
    num("cache_write", p.cache_write_per_mtok, false);
    t.set(std::string(k), p);
  }
  return t;
}

void Ledger::record(std::string_view model, const Usage& u, double cost) {
  std::lock_guard lk(mu_);
  for (Totals* t : {&total_, &by_model_[std::string(model)]}) {
    t->calls++;
    t->usage += u;
    t->cost_usd += cost;
  }
}

Ledger::Totals Ledger::totals() const {
  std::lock_guard lk(mu_);
  return total_;
}

std::map<std::string, Ledger::Totals> Ledger::by_model() const {
  std::lock_guard lk(mu_);
  return by_model_;
}

void Ledger::check(const Budget& b) const {
  auto t = totals();
  if (b.max_tokens > 0 && t.usage.total() >= b.max_tokens)
    throw Error(errc::budget_exceeded, "token budget spent: " + std::to_string(t.usage.total()) + " of " +
                                           std::to_string(b.max_tokens) + " tokens used in " + std::to_string(t.calls) + " calls");
  if (b.max_cost_usd > 0 && t.cost_usd >= b.max_cost_usd) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "cost budget spent: $%.4f of $%.4f used in %lld calls", t.cost_usd, b.max_cost_usd,
                  static_cast<long long>(t.calls));
    throw Error(errc::budget_exceeded, buf);
  }
}

}  // namespace v1
}  // namespace mlrc
