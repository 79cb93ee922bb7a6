#pragma once
/** @file error.hpp
 *  Error codes and the exception type every mlrcopilot operation throws.
 *
 *  Library failures are `mlrc::Error` (a `std::system_error` in `mlrc::category()`). Text written by
 *  the library is `what()`; text that came from a provider or a model (an API error message, a bad
 *  reply) is kept apart in `provider_text()` so callers can show or log it separately. Neither ever
 *  contains an API key: provider text is redacted before it is stored. */

#include <chrono>
#include <optional>
#include <string>
#include <system_error>

namespace mlrc {
inline namespace v1 {

/** Internal helpers. Declared here, first, so that every later `namespace mlrc::detail` (public
 *  or internal header) reopens this one rather than making a second, ambiguous `detail`. */
namespace detail {}

/** Error conditions. Values are stable (the C ABI maps them); append only. */
enum class errc {
  ok = 0,
  invalid_argument = 1,  ///< the caller passed something invalid (empty prompt, bad option)
  config = 2,            ///< bad or missing configuration: unknown provider, malformed spec, missing key
  io = 3,                ///< a file could not be read or written
  network = 4,           ///< resolve/connect/read/write failed, connection reset, unreachable host
  tls = 5,               ///< TLS handshake or certificate / host-name verification failed
  timeout = 6,           ///< a deadline passed
  cancelled = 7,         ///< the operation was cancelled
  http_status = 8,       ///< an HTTP status the protocol does not expect
  auth = 9,              ///< the provider rejected the credentials (401/403)
  rate_limited = 10,     ///< the provider said 429 (see Error::retry_after)
  server_error = 11,     ///< the provider failed (5xx, overloaded)
  protocol = 12,         ///< malformed body, wrong content type, truncated stream
  provider_error = 13,   ///< the provider returned an error object for the request (4xx)
  budget_exceeded = 14,  ///< a token or money budget is spent
  not_found = 15,        ///< a named thing does not exist (cassette entry, model, file)
  unsupported = 16,      ///< the feature is not available here
  parse = 17,            ///< a file or string the user gave is not valid (JSON, TOML, spec)
  internal = 18,         ///< a bug in mlrcopilot
};

/** The error category of `errc`. Its name is "mlrcopilot". */
const std::error_category& category() noexcept;
/** Makes an error_code in `category()`. */
std::error_code make_error_code(errc e) noexcept;
/** Short stable name of a code, e.g. "rate_limited". */
const char* errc_name(errc e) noexcept;

/** The exception thrown by mlrcopilot operations.
 *  Thread-safety: immutable after construction, safe to share. */
class Error : public std::system_error {
 public:
  /** @param message library text naming the cause (file, field, value), never a secret.
   *  @param provider_text text from the provider/model, already redacted; may be empty. */
  Error(errc code, const std::string& message, std::string provider_text = {});

  /** The library's message alone (std::system_error would append the code's name). */
  const char* what() const noexcept override { return message_.c_str(); }
  /** The code as the enum. */
  errc code_enum() const noexcept { return static_cast<errc>(code().value()); }
  /** Text that came from the provider or model (kept apart from library text). */
  const std::string& provider_text() const noexcept { return provider_text_; }

  /** HTTP status that caused this error, 0 if none. */
  int http_status = 0;
  /** Server's Retry-After hint, if it sent one. */
  std::optional<std::chrono::milliseconds> retry_after;
  /** True when part of the response had already reached the caller's observer; such a request
   *  must not be retried (the caller would see text twice). */
  bool partial_delivery = false;

 private:
  std::string message_;
  std::string provider_text_;
};

/** Replaces every occurrence of `secret` (if at least 4 characters) in `text` by "[REDACTED]". */
std::string redact(std::string text, std::string_view secret);

}  // namespace v1
}  // namespace mlrc

template <>
struct std::is_error_code_enum<mlrc::errc> : std::true_type {};
