// mlrc-fake-llm: the fake LLM server as a process, for CLI/Python end-to-end tests and benchmarks.
//
//   mlrc-fake-llm [--host 127.0.0.1] [--port N] [--port-file FILE] [--script FILE.json] [--loop]
//                 [--require-key KEY] [--bench-tokens N [--token-delay-ms D]] [--threads N]
//                 [--serve-dir DIR]
//
// --serve-dir answers every request from files instead of a script, for the online retrieval
// sources: GET /a/b?x=y is answered with the bytes of DIR/a/b (application/json, status 200); if
// DIR/a/b.status exists, its first line is the status and each further line a header
// ("Retry-After: 0", "Content-Type: application/atom+xml"). A missing file gets 404.
//
// Prints "listening http://HOST:PORT" once it accepts connections, then serves until SIGTERM or
// SIGINT and exits 0. Bad arguments or a bad script: a message on stderr and exit 2.

#include "fake_llm.hpp"

#include <boost/json.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <limits>
#include <pthread.h>
#include <sstream>
#include <stdexcept>

namespace json = boost::json;
using namespace mlrc::test;

namespace {

constexpr const char* kUsage =
    "usage: mlrc-fake-llm [--host 127.0.0.1] [--port N (0 = any)] [--port-file FILE]\n"
    "                     [--script FILE.json] [--loop] [--require-key KEY]\n"
    "                     [--bench-tokens N [--token-delay-ms D]] [--threads N] [--serve-dir DIR]\n"
    "  --script: {\"turns\":[{\"text\":…,\"tool_calls\":[{\"id\",\"name\",\"arguments\"}],\n"
    "             \"usage\":{\"input\",\"output\",\"cached\",\"cache_write\"},\"status\":…,\"error_type\":…,\n"
    "             \"error_message\":…,\"retry_after\":…,\"token_delay_ms\":…},…]}\n"
    "  without --script or --bench-tokens every chat request gets one looping text turn.\n";

struct BadScript : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <class T>
bool parse_num(const std::string& s, T& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && end == s.data() + s.size();
}

std::int64_t need_int(const json::value& v, const std::string& where, std::int64_t min = 0,
                      std::int64_t max = std::numeric_limits<std::int64_t>::max()) {
  std::int64_t n = 0;
  if (v.is_int64()) n = v.get_int64();
  else if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(max)) n = static_cast<std::int64_t>(v.get_uint64());
  else throw BadScript(where + ": expected an integer");
  if (n < min || n > max) throw BadScript(where + ": out of range");
  return n;
}
std::string need_string(const json::value& v, const std::string& where) {
  if (!v.is_string()) throw BadScript(where + ": expected a string");
  return std::string(v.get_string());
}
const json::object& need_object(const json::value& v, const std::string& where) {
  if (!v.is_object()) throw BadScript(where + ": expected an object");
  return v.get_object();
}

ScriptedTurn parse_turn(const json::value& v, const std::string& where) {
  ScriptedTurn t;
  for (const auto& [key_sv, val] : need_object(v, where)) {
    const std::string key(key_sv);
    const std::string at = where + "." + key;
    if (key == "text") {
      t.text = need_string(val, at);
    } else if (key == "tool_calls") {
      if (!val.is_array()) throw BadScript(at + ": expected an array");
      for (std::size_t i = 0; i < val.get_array().size(); ++i) {
        const std::string ci = at + "[" + std::to_string(i) + "]";
        openai::ToolCallOut call;
        for (const auto& [ck_sv, cv] : need_object(val.get_array()[i], ci)) {
          const std::string ck(ck_sv);
          if (ck == "id") call.id = need_string(cv, ci + ".id");
          else if (ck == "name") call.name = need_string(cv, ci + ".name");
          else if (ck == "arguments") call.arguments = cv.is_string() ? std::string(cv.get_string()) : json::serialize(cv);
          else throw BadScript(ci + "." + ck + ": unknown field");
        }
        if (call.name.empty()) throw BadScript(ci + ".name: required");
        t.tool_calls.push_back(std::move(call));
      }
    } else if (key == "usage") {
      for (const auto& [uk_sv, uv] : need_object(val, at)) {
        const std::string uk(uk_sv);
        const std::string ua = at + "." + uk;
        if (uk == "input") t.input_tokens = need_int(uv, ua);
        else if (uk == "output") t.output_tokens = need_int(uv, ua);
        else if (uk == "cached") t.cached_tokens = need_int(uv, ua);
        else if (uk == "cache_write") t.cache_write_tokens = need_int(uv, ua);
        else throw BadScript(ua + ": unknown field");
      }
    } else if (key == "status") {
      t.status = static_cast<int>(need_int(val, at, 100, 599));
    } else if (key == "error_type") {
      t.error_type = need_string(val, at);
    } else if (key == "error_message") {
      t.error_message = need_string(val, at);
    } else if (key == "retry_after") {
      t.retry_after = val.is_string() ? std::string(val.get_string()) : std::to_string(need_int(val, at));
    } else if (key == "token_delay_ms") {
      t.token_delay = std::chrono::milliseconds(need_int(val, at, 0, 3'600'000));
    } else {
      throw BadScript(at + ": unknown field");
    }
  }
  return t;
}

std::vector<ScriptedTurn> load_script(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw BadScript("cannot open the file");
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  json::value root = json::parse(text.str(), ec);
  if (ec) throw BadScript("not valid JSON: " + ec.message());
  const json::object& obj = need_object(root, "(root)");
  const json::value* turns = obj.if_contains("turns");
  if (!turns || !turns->is_array()) throw BadScript("turns: expected an array");
  for (const auto& [k, v] : obj)
    if (k != "turns") throw BadScript(std::string(k) + ": unknown field");
  std::vector<ScriptedTurn> out;
  for (std::size_t i = 0; i < turns->get_array().size(); ++i)
    out.push_back(parse_turn(turns->get_array()[i], "turns[" + std::to_string(i) + "]"));
  return out;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Every chat request, in either format, gets the same N-token stream; the replies are built once
// and copied, so a request costs no JSON work. Everything else goes to `fallback`.
std::function<Reply(const RecordedRequest&)> bench_handler(std::int64_t tokens, std::chrono::milliseconds delay,
                                                           std::string key,
                                                           std::function<Reply(const RecordedRequest&)> fallback) {
  std::vector<std::string> pieces;
  for (std::int64_t i = 0; i < tokens; ++i) pieces.push_back("tok" + std::to_string(i) + " ");
  auto oa = std::make_shared<const Reply>(openai::stream_text(pieces, openai::Usage{20, tokens, 0}, delay));
  std::vector<anthropic::ToolUseOut> no_tools;
  auto an = std::make_shared<const Reply>(anthropic::stream(pieces, no_tools, anthropic::Usage{20, tokens, 0, 0}, delay));
  return [oa, an, key = std::move(key), fallback = std::move(fallback)](const RecordedRequest& rq) -> Reply {
    const std::string path = rq.target.substr(0, rq.target.find('?'));
    const bool authed = key.empty() || rq.header("authorization") == "Bearer " + key || rq.header("x-api-key") == key;
    if (authed && rq.method == "POST") {
      if (ends_with(path, "/chat/completions")) return *oa;
      if (ends_with(path, "/messages")) return *an;
    }
    return fallback(rq);  // models list, 401 and 404 in the provider's format
  };
}

std::function<Reply(const RecordedRequest&)> dir_handler(std::string dir) {
  return [dir = std::move(dir)](const RecordedRequest& rq) -> Reply {
    std::string path = rq.target.substr(0, rq.target.find('?'));
    while (!path.empty() && path.front() == '/') path.erase(0, 1);
    if (path.empty() || path.find("..") != std::string::npos) return Reply::json(404, R"({"error":"not found"})");
    std::ifstream body_in(dir + "/" + path, std::ios::binary);
    std::ifstream status_in(dir + "/" + path + ".status");
    if (!body_in && !status_in) return Reply::json(404, R"({"error":"no file for this path"})");
    std::stringstream body;
    if (body_in) body << body_in.rdbuf();
    Reply r = Reply::json(200, body.str());
    if (status_in) {
      std::string line;
      if (std::getline(status_in, line)) r.status = std::atoi(line.c_str());
      while (std::getline(status_in, line)) {
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string name = line.substr(0, colon), value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        if (name == "Content-Type" || name == "content-type") {
          for (auto& h : r.headers)
            if (h.first == "Content-Type" || h.first == "content-type") h.second = value;
        } else {
          r.headers.emplace_back(name, value);
        }
      }
    }
    return r;
  };
}

// Readers polling for the file never see a partial one: write a temporary, then rename.
void write_port_file(const std::string& file, unsigned short port) {
  const std::string tmp = file + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    out.close();
    if (!out) throw std::runtime_error("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), file.c_str()) != 0) throw std::runtime_error("cannot rename " + tmp + " to " + file);
}

// 1,000 keep-alive connections need more descriptors than the usual soft limit of 1,024.
void raise_nofile_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

int usage_error(const std::string& msg) {
  std::cerr << "mlrc-fake-llm: " << msg << "\n" << kUsage;
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1", port_file, script, key, serve_dir;
  unsigned short port = 0;
  unsigned threads = 1;
  bool loop = false;
  std::int64_t bench_tokens = -1, token_delay_ms = 0;

  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc) return false;
      out = argv[++i];
      return true;
    };
    std::string v;
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--loop") {
      loop = true;
    } else if (a == "--host") {
      if (!value(host)) return usage_error("--host needs a value");
    } else if (a == "--port") {
      if (!value(v) || !parse_num(v, port)) return usage_error("--port needs a number 0-65535");
    } else if (a == "--port-file") {
      if (!value(port_file)) return usage_error("--port-file needs a value");
    } else if (a == "--script") {
      if (!value(script)) return usage_error("--script needs a value");
    } else if (a == "--serve-dir") {
      if (!value(serve_dir)) return usage_error("--serve-dir needs a value");
    } else if (a == "--require-key") {
      if (!value(key)) return usage_error("--require-key needs a value");
    } else if (a == "--bench-tokens") {
      if (!value(v) || !parse_num(v, bench_tokens) || bench_tokens < 0) return usage_error("--bench-tokens needs a number >= 0");
    } else if (a == "--token-delay-ms") {
      if (!value(v) || !parse_num(v, token_delay_ms) || token_delay_ms < 0)
        return usage_error("--token-delay-ms needs a number >= 0");
    } else if (a == "--threads") {
      if (!value(v) || !parse_num(v, threads) || threads == 0 || threads > 256) return usage_error("--threads needs 1-256");
    } else {
      return usage_error("unknown argument " + a);
    }
  }
  if (bench_tokens >= 0 && !script.empty()) return usage_error("--script and --bench-tokens exclude each other");

  std::vector<ScriptedTurn> turns;
  if (!script.empty()) {
    try {
      turns = load_script(script);
    } catch (const BadScript& e) {
      std::cerr << "mlrc-fake-llm: " << script << ": " << e.what() << "\n";
      return 2;
    }
  } else {
    ScriptedTurn hello;
    hello.text = "Hello from mlrc-fake-llm.";
    turns.push_back(hello);
    loop = true;
  }

  raise_nofile_limit();
  // Block the stop signals before the server starts its threads (they inherit the mask), so only
  // sigwait() below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  try {
    FakeLlmServer::Options opts;
    opts.bind = host;
    opts.port = port;
    opts.threads = threads;
    FakeLlmServer server(opts);
    auto scripted = scripted_handler(std::move(turns), loop, key);
    if (!serve_dir.empty())
      server.set_handler(dir_handler(serve_dir));
    else if (bench_tokens >= 0)
      server.set_handler(bench_handler(bench_tokens, std::chrono::milliseconds(token_delay_ms), key, std::move(scripted)));
    else
      server.set_handler(std::move(scripted));

    if (!port_file.empty()) write_port_file(port_file, server.port());
    std::cout << "listening " << server.base_url() << std::endl;

    int sig = 0;
    sigwait(&stop_signals, &sig);
  } catch (const std::exception& e) {
    std::cerr << "mlrc-fake-llm: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
