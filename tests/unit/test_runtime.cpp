#include <mlrcopilot/runtime.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {
asio::awaitable<int> add(int a, int b) { co_return a + b; }
asio::awaitable<void> sleep_ms(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}
asio::awaitable<int> fail_after_sleep() {
  co_await sleep_ms(5ms);
  throw mlrc::Error(mlrc::errc::protocol, "boom");
}
mlrc::errc code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const mlrc::Error& e) {
    return e.code_enum();
  }
  return mlrc::errc::ok;
}
}  // namespace

TEST_CASE("Runtime runs coroutines and returns their values", "[runtime]") {
  mlrc::Runtime rt;
  CHECK(rt.threads() == 1);
  CHECK(rt.run(add(2, 3)) == 5);
  rt.run(sleep_ms(1ms));  // void works too
}

TEST_CASE("Runtime rethrows a coroutine's exception with its code and message", "[runtime]") {
  mlrc::Runtime rt;
  try {
    rt.run(fail_after_sleep());
    FAIL("expected an exception");
  } catch (const mlrc::Error& e) {
    CHECK(e.code_enum() == mlrc::errc::protocol);
    CHECK(std::string(e.what()) == "boom");
  }
}

TEST_CASE("Runtime::run with a timeout cancels the operation", "[runtime]") {
  mlrc::Runtime rt;
  auto t0 = std::chrono::steady_clock::now();
  CHECK(code_of([&] { rt.run(sleep_ms(10s), 50ms); }) == mlrc::errc::timeout);
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
}

TEST_CASE("Runtime ops can be cancelled from another thread", "[runtime]") {
  mlrc::Runtime rt({.threads = 2});
  std::promise<mlrc::errc> result;
  auto op = rt.spawn(sleep_ms(10s), [&](std::exception_ptr e) {
    mlrc::errc c = mlrc::errc::ok;
    try {
      if (e) std::rethrow_exception(e);
    } catch (const mlrc::Error& err) {
      c = err.code_enum();
    } catch (...) {
      c = mlrc::errc::internal;
    }
    result.set_value(c);
  });
  CHECK_FALSE(op.done());
  std::thread([op]() mutable { op.cancel(); }).join();
  auto fut = result.get_future();
  REQUIRE(fut.wait_for(5s) == std::future_status::ready);
  CHECK(fut.get() == mlrc::errc::cancelled);
  CHECK(op.done());
}

TEST_CASE("Runtime shutdown cancels what is in flight and joins", "[runtime]") {
  auto rt = std::make_unique<mlrc::Runtime>(mlrc::RuntimeOptions{.threads = 2});
  std::atomic<int> finished{0};
  std::atomic<int> cancelled{0};
  for (int i = 0; i < 10; ++i)
    rt->spawn(sleep_ms(30s), [&](std::exception_ptr e) {
      try {
        if (e) std::rethrow_exception(e);
      } catch (const mlrc::Error& err) {
        if (err.code_enum() == mlrc::errc::cancelled) ++cancelled;
      }
      ++finished;
    });
  auto t0 = std::chrono::steady_clock::now();
  rt->shutdown();
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  CHECK(finished == 10);
  CHECK(cancelled == 10);
  CHECK(code_of([&] { rt->run(add(1, 1)); }) == mlrc::errc::cancelled);
  rt->shutdown();  // idempotent
  rt.reset();
}

TEST_CASE("Error keeps library and provider text apart and redacts secrets", "[error]") {
  mlrc::Error e(mlrc::errc::auth, "openai: HTTP 401", "bad key");
  CHECK(std::string(e.what()) == "openai: HTTP 401");
  CHECK(e.provider_text() == "bad key");
  CHECK(e.code() == mlrc::errc::auth);
  CHECK(std::string(e.code().category().name()) == "mlrcopilot");
  CHECK(mlrc::redact("key sk-12345 and sk-12345 again", "sk-12345") == "key [REDACTED] and [REDACTED] again");
  CHECK(mlrc::redact("short", "abc") == "short");  // too short to be a key: left alone
}

TEST_CASE("Runtime::run with a timeout reports an operation's own failure at once", "[runtime]") {
  mlrc::Runtime rt;
  auto t0 = std::chrono::steady_clock::now();
  try {
    rt.run(fail_after_sleep(), 10s);
    FAIL("expected an exception");
  } catch (const mlrc::Error& e) {
    CHECK(e.code_enum() == mlrc::errc::protocol);  // not errc::timeout
  }
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  CHECK(rt.run(add(20, 22), 10s) == 42);
}
