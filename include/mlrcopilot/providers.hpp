#pragma once
/** @file providers.hpp
 *  Model specs ("openai:gpt-4o", …), provider configuration, and the factory that builds a
 *  provider `Model` talking to a real endpoint over HTTP(S). */

#include <mlrcopilot/model.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace mlrc {
inline namespace v1 {

/** The wire protocol family of a provider. */
enum class ProviderKind {
  openai,             ///< api.openai.com Chat Completions (key OPENAI_API_KEY, base OPENAI_BASE_URL)
  anthropic,          ///< api.anthropic.com Messages (key ANTHROPIC_API_KEY, base ANTHROPIC_BASE_URL)
  ollama,             ///< Ollama's OpenAI-compatible /v1 (base from OLLAMA_HOST, no key)
  openai_compatible,  ///< any Chat Completions server (vLLM, llama.cpp server, …): base URL in the spec
};
const char* provider_kind_name(ProviderKind k) noexcept;

/** A parsed model spec. Forms:
 *  - `openai:MODEL`, `anthropic:MODEL`, `ollama:MODEL`
 *  - `openai-compatible:BASE_URL#MODEL`, e.g. `openai-compatible:http://127.0.0.1:8000/v1#qwen2.5`
 *  - `anthropic-compatible:BASE_URL#MODEL` (an Anthropic Messages server elsewhere)
 *  `parse` throws `Error(errc::config)` naming the spec and what is wrong. */
struct ModelSpec {
  ProviderKind kind = ProviderKind::openai;
  std::string model;
  std::string base_url;  ///< empty: the provider's default (or environment)
  static ModelSpec parse(std::string_view spec);
  std::string to_string() const;
};

/** Provider configuration. Empty fields are filled from the environment when `use_env`
 *  (OPENAI_API_KEY, OPENAI_BASE_URL, ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL, OLLAMA_HOST,
 *  HTTPS_PROXY/HTTP_PROXY/NO_PROXY), then from defaults. */
struct ProviderConfig {
  std::string api_key;
  std::string base_url;  ///< overrides the spec's and the environment's
  std::string ca_file;   ///< extra trusted CA bundle (PEM); the system store is always used
  std::optional<std::string> https_proxy, http_proxy, no_proxy;  ///< unset: environment
  bool use_env = true;
  /** Deadline for one HTTP request when the ChatRequest sets none. */
  std::chrono::milliseconds timeout{std::chrono::minutes(10)};
  std::map<std::string, std::string> extra_headers;
  std::string anthropic_version = "2023-06-01";
  /** OpenAI: send "max_completion_tokens" instead of "max_tokens" (o-series and newer models). */
  bool use_max_completion_tokens = false;
};

/** Builds a provider model. Throws `Error(errc::config)` if a required key is missing
 *  (OpenAI, Anthropic) or the base URL is malformed; the message names the variable to set and
 *  never contains a key. The model lives on `ex`; it must outlive its calls. */
ModelPtr make_model(boost::asio::any_io_executor ex, const ModelSpec& spec, ProviderConfig cfg = {});
/** Same with a spec string. */
ModelPtr make_model(boost::asio::any_io_executor ex, std::string_view spec, ProviderConfig cfg = {});

}  // namespace v1
}  // namespace mlrc
