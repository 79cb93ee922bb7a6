// N concurrent streamed chats in one process against mlrc-fake-llm (a separate process, so its
// CPU is not ours). Prints requests/s, the library's own overhead per request (time not spent
// waiting on the network, as measured by the provider: ChatResponse::overhead), CPU seconds and
// peak RSS, for each N.
//
//   mlrc_bench_streams [--n 1,100,1000] [--tokens 50] [--token-delay-ms 2] [--rounds 3] [--threads 1]
#include <mlrcopilot/providers.hpp>
#include <mlrcopilot/runtime.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;
using namespace std::chrono;

namespace {

long peak_rss_kb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * (v.size() - 1) + 0.5))];
}

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(std::atoi(item.c_str()));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> ns{1, 100, 1000};
  int tokens = 50, delay_ms = 2, rounds = 3;
  unsigned threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--n") ns = parse_list(v);
    else if (k == "--tokens") tokens = std::atoi(v.c_str());
    else if (k == "--token-delay-ms") delay_ms = std::atoi(v.c_str());
    else if (k == "--rounds") rounds = std::atoi(v.c_str());
    else if (k == "--threads") threads = static_cast<unsigned>(std::atoi(v.c_str()));
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);

  // Start the fake server.
  char port_file[] = "/tmp/mlrc-bench-port-XXXXXX";
  int fd = mkstemp(port_file);
  close(fd);
  unlink(port_file);
  std::string tok = std::to_string(tokens), dl = std::to_string(delay_ms);
  const char* fake = std::getenv("MLRC_FAKE_LLM") ? std::getenv("MLRC_FAKE_LLM") : MLRC_FAKE_LLM_PATH;
  std::vector<const char*> args{fake, "--port", "0", "--port-file", port_file, "--bench-tokens", tok.c_str(),
                                "--token-delay-ms", dl.c_str(), nullptr};
  pid_t pid;
  if (posix_spawn(&pid, fake, nullptr, nullptr, const_cast<char* const*>(args.data()), environ) != 0) {
    std::fprintf(stderr, "cannot start %s\n", fake);
    return 1;
  }
  std::string port;
  for (int i = 0; i < 200 && port.empty(); ++i) {
    std::this_thread::sleep_for(25ms);
    std::ifstream in(port_file);
    std::getline(in, port);
  }
  if (port.empty()) {
    std::fprintf(stderr, "fake server did not start\n");
    kill(pid, SIGTERM);
    return 1;
  }
  unlink(port_file);

  mlrc::Runtime rt({.threads = threads});
  mlrc::ProviderConfig cfg;
  cfg.use_env = false;
  auto model = mlrc::make_model(rt.executor(), "openai-compatible:http://127.0.0.1:" + port + "/v1#bench", cfg);

  std::printf("mlrcopilot stream benchmark: %d tokens per reply, %d ms between tokens, %u runtime thread(s), %d rounds\n",
              tokens, delay_ms, threads, rounds);
  std::printf("%6s %10s %12s %12s %12s %12s %10s %10s\n", "N", "req/s", "latency p50", "overhead p50", "overhead p99",
              "overhead max", "CPU s", "peak RSS");
  for (int n : ns) {
    std::vector<double> overhead_us, latency_ms;
    double cpu0 = cpu_seconds();
    auto t0 = steady_clock::now();
    int errors = 0;
    std::string first_error;
    for (int r = 0; r < rounds; ++r) {
      std::mutex mu;
      std::atomic<int> left{n};
      std::promise<void> all;
      for (int i = 0; i < n; ++i) {
        mlrc::ChatRequest req;
        req.messages.push_back(mlrc::Message::user("benchmark request " + std::to_string(i)));
        req.stream = true;
        req.timeout = 120s;
        auto start = steady_clock::now();
        rt.spawn(model->chat(std::move(req)), [&, start](std::exception_ptr e, mlrc::ChatResponse resp) {
          {
            std::lock_guard lk(mu);
            if (e) {
              ++errors;
              if (first_error.empty()) try {
                  std::rethrow_exception(e);
                } catch (const std::exception& ex) {
                  first_error = ex.what();
                }
            } else {
              overhead_us.push_back(static_cast<double>(resp.overhead.count()));
              latency_ms.push_back(duration<double, std::milli>(steady_clock::now() - start).count());
            }
          }
          if (--left == 0) all.set_value();
        });
      }
      all.get_future().wait();
    }
    double wall = duration<double>(steady_clock::now() - t0).count();
    double cpu = cpu_seconds() - cpu0;
    std::printf("%6d %10.0f %10.1fms %10.0fus %10.0fus %10.0fus %10.2f %8ldMB\n", n, (n * rounds - errors) / wall,
                pct(latency_ms, 0.5), pct(overhead_us, 0.5), pct(overhead_us, 0.99),
                overhead_us.empty() ? 0.0 : *std::max_element(overhead_us.begin(), overhead_us.end()), cpu,
                peak_rss_kb() / 1024);
    if (errors) std::printf("       %d errors, first: %s\n", errors, first_error.c_str());
    std::fflush(stdout);
  }
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  return 0;
}
