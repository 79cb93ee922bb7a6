#pragma once
// Retry, backoff and client-side rate limiting shared by everything that talks to a remote
// service: the model middleware (src/llm/middleware.cpp) and the online retrievers
// (src/retrieval/online/). One implementation of the policy's rules, so both behave alike:
// which errors are retried, jittered exponential backoff, the server's Retry-After, and the
// deadline that bounds all attempts and waits together.

#include <mlrcopilot/error.hpp>
#include <mlrcopilot/middleware.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <mutex>
#include <optional>
#include <random>

namespace mlrc::detail {

using retry_clock = std::chrono::steady_clock;

// Retried: rate_limited, server_error, network, and timeout of one attempt when the policy says
// so; never a request whose reply had already reached the caller (`partial_delivery`).
bool retryable(const Error& e, const RetryPolicy& p);

// Jittered exponential backoff: base_delay * 2^(attempt-1), capped at max_delay, scaled by a
// random factor in [1 - jitter, 1]. Thread-safe.
class Backoff {
 public:
  explicit Backoff(const RetryPolicy& p) : p_(p) {}
  retry_clock::duration delay(int attempt);

 private:
  RetryPolicy p_;
  std::mutex mu_;
  std::mt19937_64 rng_{std::random_device{}()};
};

// Decides what follows failed attempt number `attempt` (1-based). Returns nullopt and sets
// `wait` when another attempt should be made after `wait`; otherwise returns the error to give
// up with:
//  - not retryable: `e` itself;
//  - attempts used up: `e`, with "(gave up after N attempts)" when there was more than one;
//  - the server's Retry-After is longer than `max_retry_after`, or ends after `deadline`: `e`'s
//    code (rate_limited for a 429) with a message saying how long the server asked to wait, so
//    a long Retry-After fails at once instead of hanging;
//  - our own backoff would end after `deadline`: errc::timeout.
std::optional<Error> plan_retry(const Error& e, int attempt, const RetryPolicy& p, Backoff& backoff,
                                std::optional<retry_clock::time_point> deadline, retry_clock::duration& wait);

// A token bucket that may go into debt: `take` returns how long the caller must wait before
// using what it took. `per_minute` 0 disables it. Thread-safe.
class TokenBucket {
 public:
  TokenBucket(double per_minute, double burst_seconds);
  bool enabled() const { return rate_ > 0; }
  retry_clock::duration take(double n);
  void give_back(double n);

 private:
  void refill();
  std::mutex mu_;
  double rate_, capacity_, level_;
  retry_clock::time_point last_ = retry_clock::now();
};

// Waits asynchronously; honours the caller's cancellation slot (throws Error(errc::cancelled)).
boost::asio::awaitable<void> async_sleep(retry_clock::duration d);

}  // namespace mlrc::detail
