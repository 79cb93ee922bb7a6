// An installed-package consumer: runs a coroutine on the Runtime and parses a model spec.
#include <mlrcopilot/providers.hpp>
#include <mlrcopilot/runtime.hpp>
#include <mlrcopilot/version.hpp>

#include <cstdio>

boost::asio::awaitable<int> answer() { co_return 42; }

int main() {
  mlrc::Runtime rt;
  int v = rt.run(answer());
  auto spec = mlrc::ModelSpec::parse("anthropic:claude-sonnet-4-5");
  std::printf("mlrcopilot %s, coroutine %d, spec %s\n", mlrc::linked_version_string(), v, spec.to_string().c_str());
  return v == 42 && mlrc::linked_version_number() == mlrc::version_number ? 0 : 1;
}
