// The provider models: OpenAI Chat Completions (OpenAI, Ollama /v1, any compatible server) and
// Anthropic Messages, over the shared HTTP client. Protocol details live in the sans-io wire
// layer (wire.hpp); this file only moves bytes, deadlines and errors.
#include <mlrcopilot/providers.hpp>
#include <mlrcopilot/scripted.hpp>

#include "llm/wire.hpp"
#include "net/http_client.hpp"

#include <simdjson.h>

#include <cstdlib>

namespace mlrc {
inline namespace v1 {

namespace asio = boost::asio;
using detail::Headers;
using detail::HttpClient;
using detail::HttpHead;
using detail::Url;
using clock = std::chrono::steady_clock;

const char* provider_kind_name(ProviderKind k) noexcept {
  switch (k) {
    case ProviderKind::openai: return "openai";
    case ProviderKind::anthropic: return "anthropic";
    case ProviderKind::ollama: return "ollama";
    case ProviderKind::openai_compatible: return "openai-compatible";
  }
  return "unknown";
}

ModelSpec ModelSpec::parse(std::string_view spec) {
  auto colon = spec.find(':');
  if (spec.empty()) throw Error(errc::config, "empty model spec (expected PROVIDER:MODEL, e.g. openai:gpt-4o)");
  if (colon == std::string_view::npos || colon == 0)
    throw Error(errc::config, "model spec '" + std::string(spec) +
                                  "' has no provider (expected PROVIDER:MODEL, e.g. openai:gpt-4o or anthropic:claude-sonnet-4-5)");
  std::string_view provider = spec.substr(0, colon), rest = spec.substr(colon + 1);
  ModelSpec s;
  bool with_url = false;
  if (provider == "openai") s.kind = ProviderKind::openai;
  else if (provider == "anthropic") s.kind = ProviderKind::anthropic;
  else if (provider == "ollama") s.kind = ProviderKind::ollama;
  else if (provider == "openai-compatible") s.kind = ProviderKind::openai_compatible, with_url = true;
  else if (provider == "anthropic-compatible") s.kind = ProviderKind::anthropic, with_url = true;
  else
    throw Error(errc::config, "model spec '" + std::string(spec) + "': unknown provider '" + std::string(provider) +
                                  "' (known: openai, anthropic, ollama, openai-compatible, anthropic-compatible, scripted)");
  if (with_url) {
    auto hash = rest.rfind('#');
    if (hash == std::string_view::npos || hash + 1 == rest.size())
      throw Error(errc::config, "model spec '" + std::string(spec) + "': expected " + std::string(provider) +
                                    ":BASE_URL#MODEL, e.g. openai-compatible:http://127.0.0.1:8000/v1#qwen2.5");
    s.base_url = std::string(rest.substr(0, hash));
    s.model = std::string(rest.substr(hash + 1));
    Url::parse(s.base_url);  // throws naming the URL
  } else {
    s.model = std::string(rest);
  }
  if (s.model.empty()) throw Error(errc::config, "model spec '" + std::string(spec) + "' names no model after the provider");
  return s;
}

std::string ModelSpec::to_string() const {
  if (!base_url.empty())
    return std::string(kind == ProviderKind::anthropic ? "anthropic-compatible" : "openai-compatible") + ":" + base_url + "#" + model;
  return std::string(provider_kind_name(kind)) + ":" + model;
}

namespace {

std::string getenv_str(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

// Bodies of error replies are kept for the message, up to this much.
constexpr std::size_t max_error_body = 64 * 1024;
constexpr std::size_t max_plain_body = 64u << 20;

enum class Wire { openai, anthropic };

class HttpModel final : public Model {
 public:
  HttpModel(asio::any_io_executor ex, Wire wire, std::string provider, std::string model, std::string base,
            std::string key, ProviderConfig cfg, detail::HttpClientOptions http_opts)
      : wire_(wire),
        provider_(std::move(provider)),
        model_(std::move(model)),
        base_(std::move(base)),
        key_(std::move(key)),
        cfg_(std::move(cfg)),
        http_(std::make_shared<HttpClient>(std::move(ex), std::move(http_opts))) {
    chat_url_ = Url::join(base_, wire_ == Wire::openai ? "chat/completions" : "v1/messages");
    models_url_ = Url::join(base_, wire_ == Wire::openai ? "models" : "v1/models");
  }

  std::string describe() const override { return provider_ + ":" + model_; }

  asio::awaitable<ChatResponse> chat(ChatRequest req, StreamObserver* observer) override {
    const auto t0 = clock::now();
    if (req.messages.empty()) throw Error(errc::invalid_argument, describe() + ": chat request has no messages");
    const bool stream = req.stream;
    const std::string model = req.model.empty() ? model_ : req.model;
    std::string structured_tool = req.response_format && wire_ == Wire::anthropic ? req.response_format->name : "";
    std::string body = wire_ == Wire::openai
                           ? detail::openai_request_body(req, model, stream, cfg_.use_max_completion_tokens)
                           : detail::anthropic_request_body(req, model, stream);
    Headers h = headers(stream ? "text/event-stream" : "application/json");
    h.emplace_back("content-type", "application/json");
    const auto deadline = t0 + (req.timeout.count() > 0 ? req.timeout : cfg_.timeout);

    int status = 0;
    std::string retry_after, err_body, plain;
    detail::SseParser sse;
    std::vector<detail::SseEvent> events;
    detail::OpenAiStream oa(observer);
    detail::AnthropicStream an(observer, structured_tool);
    auto delivered = [&] { return wire_ == Wire::openai ? oa.delivered() : an.delivered(); };
    detail::HttpTiming timing;
    try {
      co_await http_->send(
          "POST", chat_url_, h, std::move(body), deadline,
          [&](const HttpHead& head) {
            status = head.status;
            retry_after = head.get("retry-after");
            if (status != 200) return;
            std::string ct = head.get("content-type");
            bool ok = stream ? starts_with_ci(ct, "text/event-stream")
                             : (starts_with_ci(ct, "application/json") || ct.find("+json") != std::string::npos);
            if (!ok)
              throw Error(errc::protocol, describe() + ": expected Content-Type " +
                                              (stream ? "text/event-stream" : "application/json") + " from " +
                                              chat_url_.origin() + ", got '" + ct + "'");
          },
          [&](std::string_view piece) {
            if (status != 200) {
              if (err_body.size() < max_error_body) err_body.append(piece.substr(0, max_error_body - err_body.size()));
              return;
            }
            if (!stream) {
              if (plain.size() + piece.size() > max_plain_body)
                throw Error(errc::protocol, describe() + ": response body larger than 64 MiB");
              plain.append(piece);
              return;
            }
            events.clear();
            sse.feed(piece, events);
            for (auto& ev : events) {
              if (wire_ == Wire::openai)
                oa.on_event(ev);
              else
                an.on_event(ev);
            }
          },
          &timing);
    } catch (Error& e) {
      Error copy(e.code_enum(), describe() + ": " + e.what(), detail_redact(e.provider_text()));
      copy.http_status = e.http_status;
      copy.retry_after = e.retry_after;
      copy.partial_delivery = delivered();
      throw copy;
    }
    if (status != 200) throw detail::error_from_http(status, err_body, retry_after, describe(), key_);

    ChatResponse resp;
    if (!stream) {
      resp = wire_ == Wire::openai ? detail::openai_parse_response(plain) : detail::anthropic_parse_response(plain, structured_tool);
    } else {
      bool done = wire_ == Wire::openai ? oa.done() : an.done();
      if (!done) {
        // The connection ended early: a transport failure, retryable if nothing was delivered yet.
        Error e(errc::network, describe() + ": stream from " + chat_url_.origin() + " ended before its final event (truncated)");
        e.partial_delivery = delivered();
        throw e;
      }
      resp = wire_ == Wire::openai ? oa.finish() : an.finish();
    }
    if (resp.model.empty()) resp.model = model;
    auto total = clock::now() - t0;
    resp.overhead = std::chrono::duration_cast<std::chrono::microseconds>(total - std::min(total, timing.network_wait));
    co_return resp;
  }

  asio::awaitable<void> check() override {
    auto deadline = clock::now() + std::min<std::chrono::milliseconds>(cfg_.timeout, std::chrono::seconds(30));
    auto r = co_await http_->fetch("GET", models_url_, headers("application/json"), {}, deadline, 16u << 20);
    if (r.head.status != 200) throw detail::error_from_http(r.head.status, r.body, r.head.get("retry-after"), describe(), key_);
    // The endpoint and key work. Confirm the model is offered when the list says so.
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(r.body).get(doc))
      throw Error(errc::protocol, describe() + ": model list from " + models_url_.origin() + " is not JSON");
    simdjson::dom::array data;
    if (doc["data"].get_array().get(data)) co_return;  // unusual shape: reachability is what we can confirm
    std::string names;
    for (auto m : data) {
      std::string_view id;
      if (m["id"].get_string().get(id)) continue;
      if (id == model_) co_return;
      if (names.size() < 300) names += (names.empty() ? "" : ", ") + std::string(id);
    }
    if (!names.empty())
      throw Error(errc::not_found, describe() + ": the endpoint " + base_ + " works, but does not offer model '" + model_ +
                                       "' (it offers: " + names + ")");
  }

 private:
  Headers headers(const char* accept) const {
    Headers h{{"accept", accept}};
    if (wire_ == Wire::openai) {
      if (!key_.empty()) h.emplace_back("authorization", "Bearer " + key_);
    } else {
      h.emplace_back("x-api-key", key_);
      h.emplace_back("anthropic-version", cfg_.anthropic_version);
    }
    for (auto& [k, v] : cfg_.extra_headers) h.emplace_back(k, v);
    return h;
  }
  std::string detail_redact(const std::string& s) const { return redact(s, key_); }

  Wire wire_;
  std::string provider_, model_, base_, key_;
  ProviderConfig cfg_;
  std::shared_ptr<HttpClient> http_;
  Url chat_url_, models_url_;
};

}  // namespace

ModelPtr make_model(asio::any_io_executor ex, const ModelSpec& spec, ProviderConfig cfg) {
  auto from_env = [&](const char* name) { return cfg.use_env ? getenv_str(name) : std::string(); };
  std::string base = !cfg.base_url.empty() ? cfg.base_url : spec.base_url;
  std::string key = cfg.api_key;
  Wire wire = Wire::openai;
  std::string provider = provider_kind_name(spec.kind);
  switch (spec.kind) {
    case ProviderKind::openai:
      if (base.empty()) base = from_env("OPENAI_BASE_URL");
      if (base.empty()) base = "https://api.openai.com/v1";
      if (key.empty()) key = from_env("OPENAI_API_KEY");
      if (key.empty())
        throw Error(errc::config, "openai:" + spec.model + ": no API key; set OPENAI_API_KEY (or ProviderConfig::api_key)");
      break;
    case ProviderKind::anthropic:
      wire = Wire::anthropic;
      if (base.empty()) base = from_env("ANTHROPIC_BASE_URL");
      if (base.empty()) base = "https://api.anthropic.com";
      if (key.empty()) key = from_env("ANTHROPIC_API_KEY");
      if (key.empty())
        throw Error(errc::config, "anthropic:" + spec.model + ": no API key; set ANTHROPIC_API_KEY (or ProviderConfig::api_key)");
      break;
    case ProviderKind::ollama: {
      if (base.empty()) {
        std::string host = from_env("OLLAMA_HOST");
        if (host.empty()) host = "127.0.0.1:11434";
        if (host.find("://") == std::string::npos) host = "http://" + host;
        while (!host.empty() && host.back() == '/') host.pop_back();
        base = host + "/v1";
      }
      break;  // Ollama needs no key
    }
    case ProviderKind::openai_compatible:
      if (key.empty()) key = from_env("OPENAI_API_KEY");  // optional for local servers
      break;
  }
  Url::parse(base);  // a clear config error now rather than at the first call
  detail::HttpClientOptions http;
  http.ca_file = cfg.ca_file;
  auto env_proxy = detail::ProxySettings::from_env();
  if (!cfg.use_env) env_proxy = {};
  http.proxy = detail::ProxySettings{cfg.https_proxy.value_or(env_proxy.https_proxy), cfg.http_proxy.value_or(env_proxy.http_proxy),
                                     cfg.no_proxy.value_or(env_proxy.no_proxy)};
  return std::make_shared<HttpModel>(std::move(ex), wire, provider, spec.model, base, key, std::move(cfg), std::move(http));
}

ModelPtr make_model(asio::any_io_executor ex, std::string_view spec, ProviderConfig cfg) {
  // "scripted:PATH": an offline script, never a network call.
  if (spec.rfind("scripted:", 0) == 0) return ScriptedModel::from_file(std::string(spec.substr(9)));
  return make_model(std::move(ex), ModelSpec::parse(spec), std::move(cfg));
}

}  // namespace v1
}  // namespace mlrc
