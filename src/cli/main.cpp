// mlrc: the command-line front end. Commands: chat, models check, version.
// Exit codes: 0 success; 1 the operation failed (network, provider, timeout, budget …);
// 2 usage error (unknown command or option, missing argument); 3 configuration error
// (malformed model spec, missing API key, bad file).
#include <mlrcopilot/error.hpp>
#include <mlrcopilot/json.hpp>
#include <mlrcopilot/middleware.hpp>
#include <mlrcopilot/providers.hpp>
#include <mlrcopilot/runtime.hpp>
#include <mlrcopilot/version.hpp>

#include <boost/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr int exit_ok = 0, exit_failed = 1, exit_usage = 2, exit_config = 3;

struct Usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A tiny option parser: --name VALUE, --name=VALUE, boolean --flag, positionals; "--" ends options.
struct Args {
  std::map<std::string, std::string> opts;
  std::vector<std::string> pos;
  bool has(const std::string& k) const { return opts.count(k) > 0; }
  std::string get(const std::string& k, std::string def = {}) const {
    auto it = opts.find(k);
    return it == opts.end() ? def : it->second;
  }
};

Args parse_args(const std::vector<std::string>& argv, const std::vector<std::string>& flags,
                const std::vector<std::string>& valued) {
  Args a;
  auto known = [](const std::vector<std::string>& v, const std::string& k) {
    for (auto& x : v)
      if (x == k) return true;
    return false;
  };
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& s = argv[i];
    if (s == "--") {
      for (++i; i < argv.size(); ++i) a.pos.push_back(argv[i]);
      break;
    }
    if (s.size() > 2 && s.rfind("--", 0) == 0) {
      std::string name = s.substr(2), value;
      bool inline_value = false;
      if (auto eq = name.find('='); eq != std::string::npos) value = name.substr(eq + 1), name.resize(eq), inline_value = true;
      if (known(flags, name)) {
        if (inline_value) throw Usage_error("option --" + name + " takes no value");
        a.opts[name] = "1";
      } else if (known(valued, name)) {
        if (!inline_value) {
          if (i + 1 >= argv.size()) throw Usage_error("option --" + name + " needs a value");
          value = argv[++i];
        }
        a.opts[name] = value;
      } else {
        throw Usage_error("unknown option --" + name);
      }
    } else if (s == "-h") {
      a.opts["help"] = "1";
    } else {
      a.pos.push_back(s);
    }
  }
  return a;
}

double to_number(const std::string& opt, const std::string& v) {
  try {
    std::size_t n = 0;
    double d = std::stod(v, &n);
    if (n != v.size() || d < 0) throw std::invalid_argument(v);
    return d;
  } catch (const std::exception&) {
    throw Usage_error("option --" + opt + ": '" + v + "' is not a non-negative number");
  }
}

const char* main_help = R"(mlrc — machine-learning research with LLM agents

Usage: mlrc <command> [options]

Commands:
  chat           send one chat to a model and print the reply
  models check   check that a model endpoint and its key work (spends no tokens where possible)
  version        print the library version

Run 'mlrc <command> --help' for a command's options.
Exit codes: 0 success, 1 operation failed, 2 usage error, 3 configuration error.
)";

const char* chat_help = R"(Usage: mlrc chat --model SPEC [options] PROMPT...
       mlrc chat --model SPEC [options] -        (prompt from standard input)

Sends one chat and prints the reply.

Model specs: openai:MODEL, anthropic:MODEL, ollama:MODEL,
  openai-compatible:BASE_URL#MODEL, anthropic-compatible:BASE_URL#MODEL.
Keys come from OPENAI_API_KEY / ANTHROPIC_API_KEY; bases from OPENAI_BASE_URL,
ANTHROPIC_BASE_URL, OLLAMA_HOST; proxies from HTTPS_PROXY / HTTP_PROXY / NO_PROXY.

Options:
  --model SPEC          model to use (default: $MLRC_MODEL)
  --system TEXT         system prompt
  --stream              print the reply as it arrives
  --json                print one JSON object: text, tool_calls, usage, cost_usd, …
  --max-tokens N        cap the reply length
  --temperature T       sampling temperature
  --timeout SEC         deadline for the whole call including retries (default 600)
  --retries N           attempts on 429/5xx/connection loss (default 4, 1 = no retry)
  --base-url URL        override the provider's base URL
  --ca-file FILE        extra trusted CA certificates (PEM)
  --cassette FILE       record/replay file (JSON lines)
  --cassette-mode M     record | replay | auto (replay when recorded, else record; default auto)
  --budget-tokens N     refuse to start once N tokens are spent
  --budget-usd X        refuse to start once $X is spent
  -h, --help            this help
)";

const char* models_help = R"(Usage: mlrc models check SPEC [--base-url URL] [--ca-file FILE] [--timeout SEC]

Tells whether the endpoint answers and accepts the key, by listing its models (no tokens
spent), and whether it offers the named model. Exit 0 if it works, 1 if not, 3 if the spec or
configuration is wrong.
)";

class PrintObserver : public mlrc::StreamObserver {
 public:
  void on_text(std::string_view d) override {
    std::fwrite(d.data(), 1, d.size(), stdout);
    std::fflush(stdout);
  }
};

int report(const mlrc::Error& e) {
  std::fprintf(stderr, "mlrc: error: %s\n", e.what());
  if (!e.provider_text().empty()) std::fprintf(stderr, "mlrc: provider said: %s\n", e.provider_text().c_str());
  auto c = e.code_enum();
  return c == mlrc::errc::config || c == mlrc::errc::parse || c == mlrc::errc::invalid_argument ? exit_config : exit_failed;
}

mlrc::ProviderConfig provider_config(const Args& a) {
  mlrc::ProviderConfig cfg;
  cfg.base_url = a.get("base-url");
  cfg.ca_file = a.get("ca-file");
  if (a.has("timeout")) cfg.timeout = std::chrono::milliseconds(static_cast<long long>(to_number("timeout", a.get("timeout")) * 1000));
  return cfg;
}

int cmd_chat(const std::vector<std::string>& argv) {
  Args a = parse_args(argv, {"stream", "json", "help"},
                      {"model", "system", "max-tokens", "temperature", "timeout", "retries", "base-url", "ca-file",
                       "cassette", "cassette-mode", "budget-tokens", "budget-usd"});
  if (a.has("help")) return std::fputs(chat_help, stdout), exit_ok;
  std::string spec = a.get("model");
  if (spec.empty())
    if (const char* m = std::getenv("MLRC_MODEL")) spec = m;
  if (spec.empty()) throw Usage_error("chat: --model SPEC is required (or set MLRC_MODEL)");
  std::string prompt;
  if (a.pos.size() == 1 && a.pos[0] == "-") {
    prompt.assign(std::istreambuf_iterator<char>(std::cin), {});
  } else {
    for (auto& p : a.pos) prompt += (prompt.empty() ? "" : " ") + p;
  }
  if (prompt.find_first_not_of(" \t\r\n") == std::string::npos) throw Usage_error("chat: the prompt is empty");

  mlrc::ChatRequest req;
  if (a.has("system")) req.messages.push_back(mlrc::Message::system(a.get("system")));
  req.messages.push_back(mlrc::Message::user(prompt));
  req.stream = a.has("stream");
  if (a.has("max-tokens")) req.max_tokens = static_cast<std::int64_t>(to_number("max-tokens", a.get("max-tokens")));
  if (a.has("temperature")) req.temperature = to_number("temperature", a.get("temperature"));
  req.timeout = std::chrono::milliseconds(static_cast<long long>(to_number("timeout", a.get("timeout", "600")) * 1000));

  mlrc::Runtime rt;
  mlrc::ModelPtr model;
  std::string mode = a.get("cassette-mode", "auto");
  bool replay_only = a.has("cassette") && mode == "replay";
  if (!replay_only) model = mlrc::make_model(rt.executor(), spec, provider_config(a));
  mlrc::RetryPolicy rp;
  if (a.has("retries")) rp.max_attempts = std::max(1, static_cast<int>(to_number("retries", a.get("retries"))));
  if (model) model = mlrc::with_retry(model, rp);
  if (a.has("cassette")) {
    mlrc::CassetteMode m = mode == "record" ? mlrc::CassetteMode::record
                           : mode == "replay" ? mlrc::CassetteMode::replay
                           : mode == "auto"   ? mlrc::CassetteMode::replay_or_record
                                              : throw Usage_error("--cassette-mode must be record, replay or auto");
    model = mlrc::with_cassette(model, a.get("cassette"), m);
  }
  auto ledger = std::make_shared<mlrc::Ledger>();
  mlrc::Budget budget;
  if (a.has("budget-tokens")) budget.max_tokens = static_cast<std::int64_t>(to_number("budget-tokens", a.get("budget-tokens")));
  if (a.has("budget-usd")) budget.max_cost_usd = to_number("budget-usd", a.get("budget-usd"));
  model = mlrc::with_accounting(model, ledger, mlrc::PriceTable::defaults(), budget);

  PrintObserver printer;
  bool json = a.has("json");
  auto resp = rt.run(model->chat(req, req.stream && !json ? &printer : nullptr));
  if (json) {
    std::printf("%s\n", mlrc::to_json(resp).c_str());
  } else if (req.stream) {
    std::printf("\n");
  } else {
    std::printf("%s\n", resp.text.c_str());
  }
  if (!json)
    for (auto& c : resp.tool_calls) std::printf("[tool call %s %s %s]\n", c.id.c_str(), c.name.c_str(), c.arguments.c_str());
  return exit_ok;
}

int cmd_models(const std::vector<std::string>& argv) {
  Args a = parse_args(argv, {"help"}, {"base-url", "ca-file", "timeout"});
  if (a.has("help") || a.pos.empty()) {
    std::fputs(models_help, a.has("help") ? stdout : stderr);
    return a.has("help") ? exit_ok : exit_usage;
  }
  if (a.pos[0] != "check") throw Usage_error("models: unknown subcommand '" + a.pos[0] + "' (expected: check)");
  if (a.pos.size() != 2) throw Usage_error("models check: expected exactly one SPEC");
  mlrc::Runtime rt;
  auto model = mlrc::make_model(rt.executor(), a.pos[1], provider_config(a));
  rt.run(model->check());
  std::printf("ok: %s answers and accepts the credentials\n", model->describe().c_str());
  return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
      std::fputs(main_help, args.empty() ? stderr : stdout);
      return args.empty() ? exit_usage : exit_ok;
    }
    std::string cmd = args[0];
    std::vector<std::string> rest(args.begin() + 1, args.end());
    if (cmd == "chat") return cmd_chat(rest);
    if (cmd == "models") return cmd_models(rest);
    if (cmd == "version" || cmd == "--version") {
      std::printf("mlrc %s\n", mlrc::linked_version_string());
      return exit_ok;
    }
    throw Usage_error("unknown command '" + cmd + "'");
  } catch (const Usage_error& e) {
    std::fprintf(stderr, "mlrc: %s\nRun 'mlrc --help' for usage.\n", e.what());
    return exit_usage;
  } catch (const mlrc::Error& e) {
    return report(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mlrc: internal error: %s\n", e.what());
    return exit_failed;
  }
}
