#include <mlrcopilot/error.hpp>
#include <mlrcopilot/version.hpp>

namespace mlrc {
inline namespace v1 {

namespace {
class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "mlrcopilot"; }
  std::string message(int ev) const override { return errc_name(static_cast<errc>(ev)); }
};
}  // namespace

const std::error_category& category() noexcept {
  static const Category c;
  return c;
}

std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), category()}; }

const char* errc_name(errc e) noexcept {
  switch (e) {
    case errc::ok: return "ok";
    case errc::invalid_argument: return "invalid_argument";
    case errc::config: return "config";
    case errc::io: return "io";
    case errc::network: return "network";
    case errc::tls: return "tls";
    case errc::timeout: return "timeout";
    case errc::cancelled: return "cancelled";
    case errc::http_status: return "http_status";
    case errc::auth: return "auth";
    case errc::rate_limited: return "rate_limited";
    case errc::server_error: return "server_error";
    case errc::protocol: return "protocol";
    case errc::provider_error: return "provider_error";
    case errc::budget_exceeded: return "budget_exceeded";
    case errc::not_found: return "not_found";
    case errc::unsupported: return "unsupported";
    case errc::parse: return "parse";
    case errc::internal: return "internal";
  }
  return "unknown";
}

Error::Error(errc code, const std::string& message, std::string provider_text)
    : std::system_error(make_error_code(code), message), message_(message), provider_text_(std::move(provider_text)) {}

std::string redact(std::string text, std::string_view secret) {
  if (secret.size() < 4) return text;
  constexpr std::string_view mask = "[REDACTED]";
  for (std::size_t pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos + mask.size()))
    text.replace(pos, secret.size(), mask);
  return text;
}

int linked_version_number() noexcept { return version_number; }
const char* linked_version_string() noexcept {
#define MLRC_STR2(x) #x
#define MLRC_STR(x) MLRC_STR2(x)
  return MLRC_STR(MLRC_VERSION_MAJOR) "." MLRC_STR(MLRC_VERSION_MINOR) "." MLRC_STR(MLRC_VERSION_PATCH);
#undef MLRC_STR
#undef MLRC_STR2
}

}  // namespace v1
}  // namespace mlrc
