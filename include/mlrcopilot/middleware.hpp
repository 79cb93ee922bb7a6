#pragma once
/** @file middleware.hpp
 *  Models that wrap another model: retries, client-side rate limits, token/cost accounting with
 *  budgets, and record/replay cassettes. Compose them by nesting, outermost first, e.g.
 *  `with_accounting(with_retry(with_rate_limit(provider, rl), rp), ledger, prices, budget)`.
 *  Each wrapper is safe for concurrent `chat` calls. */

#include <mlrcopilot/model.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mlrc {
inline namespace v1 {

/** When and how to retry. Retried: rate_limited (429), server_error (5xx, overloaded), network
 *  (connection refused/reset/truncated) and timeout of one attempt; never a request whose reply
 *  had already reached the caller's observer (`Error::partial_delivery`). */
struct RetryPolicy {
  int max_attempts = 4;                              ///< total attempts including the first
  std::chrono::milliseconds base_delay{500};         ///< first backoff; doubles each retry
  std::chrono::milliseconds max_delay{30000};        ///< cap on one backoff
  double jitter = 0.5;                               ///< each delay is scaled by a random factor in [1-jitter, 1]
  std::chrono::milliseconds max_retry_after{120000}; ///< a Retry-After longer than this is not waited for
  bool retry_timeouts = true;
};
/** Adds retries. The request's timeout (if set) bounds all attempts and waits together. */
ModelPtr with_retry(ModelPtr inner, RetryPolicy policy = {});

/** Client-side limits; 0 means unlimited. Requests wait (asynchronously) for capacity. Tokens are
 *  estimated before a call (about 4 characters a token plus max_tokens) and corrected with the
 *  reported usage after it. */
struct RateLimit {
  double requests_per_minute = 0;
  double tokens_per_minute = 0;
  /** Burst allowance as seconds of the rate: up to `burst_seconds` worth of requests/tokens may
   *  go at once after an idle period (60 = a whole minute's allowance, like the providers). */
  double burst_seconds = 60;
};
ModelPtr with_rate_limit(ModelPtr inner, RateLimit limit);

/** USD per million tokens. Negative cached/cache-write prices mean "same as input". */
struct Price {
  double input_per_mtok = 0;
  double output_per_mtok = 0;
  double cached_input_per_mtok = -1;
  double cache_write_per_mtok = -1;
};

/** Model-name → price. Patterns are exact names or prefixes ending in '*' ("gpt-4o*"); the longest
 *  match wins. `defaults()` carries list prices for common models (check them: prices change);
 *  `from_json` reads {"model-or-prefix*": {"input": $, "output": $, "cached_input": $, "cache_write": $}}. */
class PriceTable {
 public:
  void set(std::string pattern, Price p);
  std::optional<Price> find(std::string_view model) const;
  /** Cost in USD of `u` on `model`; 0 when no price is known. */
  double cost(std::string_view model, const Usage& u) const;
  static PriceTable defaults();
  /** Throws Error(errc::parse) naming the entry that is wrong. */
  static PriceTable from_json(std::string_view json);

 private:
  std::map<std::string, Price, std::less<>> prices_;
};

/** Hard limits; 0 means unlimited. */
struct Budget {
  std::int64_t max_tokens = 0;
  double max_cost_usd = 0;
};

/** Running totals of calls, tokens and money. Thread-safe. */
class Ledger {
 public:
  struct Totals {
    std::int64_t calls = 0;
    Usage usage;
    double cost_usd = 0;
  };
  void record(std::string_view model, const Usage& u, double cost);
  Totals totals() const;
  std::map<std::string, Totals> by_model() const;
  /** Throws Error(errc::budget_exceeded) saying which budget is spent and by how much. */
  void check(const Budget& b) const;

 private:
  mutable std::mutex mu_;
  Totals total_;
  std::map<std::string, Totals> by_model_;
};

/** Records every reply's usage and cost in `ledger` (and in ChatResponse::cost_usd), and refuses
 *  to start a call once `budget` is spent (Error(errc::budget_exceeded)); a call already running
 *  when the budget runs out completes. */
ModelPtr with_accounting(ModelPtr inner, std::shared_ptr<Ledger> ledger, PriceTable prices = PriceTable::defaults(),
                         Budget budget = {});

/** Cassette modes. */
enum class CassetteMode {
  record,  ///< call `inner`, append every exchange to the file
  replay,  ///< never call a model: answer from the file, Error(errc::not_found) on a miss
  replay_or_record,  ///< answer from the file when it has the request, otherwise call `inner` and record
};

/** Record/replay. A cassette is a JSON-lines file; each line holds the request's hash (see
 *  `request_hash`), the canonical request and the response. Several recordings of the same request
 *  are replayed in order (the last one repeats). No API key is ever written: requests carry none
 *  (keys travel in HTTP headers only). In replay mode `inner` may be null. Streamed replays hand
 *  the whole text to the observer as one delta. Throws Error(errc::parse) naming the file and line
 *  of a malformed cassette, Error(errc::io) if it cannot be read or written. */
ModelPtr with_cassette(ModelPtr inner, std::string path, CassetteMode mode);

}  // namespace v1
}  // namespace mlrc
