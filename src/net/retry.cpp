#include "net/retry.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cmath>
#include <string>

namespace mlrc::detail {

namespace asio = boost::asio;
using std::chrono::milliseconds;

bool retryable(const Error& e, const RetryPolicy& p) {
  if (e.partial_delivery) return false;
  switch (e.code_enum()) {
    case errc::rate_limited:
    case errc::server_error:
    case errc::network: return true;
    case errc::timeout: return p.retry_timeouts;
    default: return false;
  }
}

retry_clock::duration Backoff::delay(int attempt) {
  double d = static_cast<double>(p_.base_delay.count()) * std::pow(2.0, attempt - 1);
  d = std::min(d, static_cast<double>(p_.max_delay.count()));
  double factor;
  {
    std::lock_guard lk(mu_);
    factor = std::uniform_real_distribution<double>(1.0 - std::clamp(p_.jitter, 0.0, 1.0), 1.0)(rng_);
  }
  return std::chrono::microseconds(static_cast<std::int64_t>(d * factor * 1000));
}

namespace {
Error with_message(const Error& e, errc code, const std::string& message) {
  Error out(code, message, e.provider_text());
  out.http_status = e.http_status;
  out.retry_after = e.retry_after;
  return out;
}
std::string seconds(milliseconds ms) {
  auto s = std::to_string(ms.count() / 1000);
  if (ms.count() < 10000 && ms.count() % 1000) s += "." + std::to_string(ms.count() % 1000 / 100);
  return s + " s";
}
}  // namespace

std::optional<Error> plan_retry(const Error& e, int attempt, const RetryPolicy& p, Backoff& backoff,
                                std::optional<retry_clock::time_point> deadline, retry_clock::duration& wait) {
  if (!retryable(e, p)) return e;
  if (attempt >= p.max_attempts) {
    if (attempt == 1) return e;
    return with_message(e, e.code_enum(), std::string(e.what()) + " (gave up after " + std::to_string(attempt) + " attempts)");
  }
  wait = backoff.delay(attempt);
  if (e.retry_after) {
    if (*e.retry_after > p.max_retry_after)
      return with_message(e, e.code_enum(), std::string(e.what()) + " (server asks to retry after " + seconds(*e.retry_after) +
                                                ", more than the " + seconds(p.max_retry_after) + " allowed)");
    wait = *e.retry_after;
    if (deadline && retry_clock::now() + wait >= *deadline) {
      auto left = std::chrono::duration_cast<milliseconds>(*deadline - retry_clock::now());
      return with_message(e, e.code_enum(), std::string(e.what()) + " (server asks to retry after " + seconds(*e.retry_after) +
                                                ", beyond the deadline " + seconds(std::max(left, milliseconds(0))) + " away)");
    }
  }
  if (deadline && retry_clock::now() + wait >= *deadline)
    return with_message(e, errc::timeout, std::string(e.what()) + " (no time left to retry before the deadline)");
  return std::nullopt;
}

TokenBucket::TokenBucket(double per_minute, double burst_seconds)
    : rate_(per_minute / 60.0), capacity_(std::max(1.0, rate_ * burst_seconds)), level_(capacity_) {}

retry_clock::duration TokenBucket::take(double n) {
  std::lock_guard lk(mu_);
  refill();
  level_ -= n;
  if (level_ >= 0) return retry_clock::duration::zero();
  return std::chrono::duration_cast<retry_clock::duration>(std::chrono::duration<double>(-level_ / rate_));
}

void TokenBucket::give_back(double n) {
  std::lock_guard lk(mu_);
  refill();
  level_ = std::min(capacity_, level_ + n);
}

void TokenBucket::refill() {
  auto now = retry_clock::now();
  level_ = std::min(capacity_, level_ + rate_ * std::chrono::duration<double>(now - last_).count());
  last_ = now;
}

asio::awaitable<void> async_sleep(retry_clock::duration d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  boost::system::error_code ec;
  co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  if (ec == asio::error::operation_aborted) throw Error(errc::cancelled, "wait cancelled");
}

}  // namespace mlrc::detail
