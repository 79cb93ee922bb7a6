#pragma once
/** @file runtime.hpp
 *  `Runtime`: owns the Asio `io_context` and its worker threads, runs coroutines from ordinary
 *  (blocking) code, and shuts down cleanly: everything in flight is cancelled, then the threads
 *  are joined.
 *
 *  Every operation started with `run` or `spawn` gets its own strand and cancellation signal, so
 *  it can be cancelled from any thread and never runs two steps at once even with several worker
 *  threads. */

#include <mlrcopilot/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <type_traits>

namespace mlrc {
inline namespace v1 {

/** Options for `Runtime`. */
struct RuntimeOptions {
  /** Worker threads running the io_context. 0 means one per hardware thread (at least 1). */
  unsigned threads = 1;
};

namespace detail {
/** The outcome of an operation, exception included, as a value: Asio's `||` waits for the first
 *  *success*, so an operation that failed must not look like a failure to it. */
template <class T>
struct Outcome {
  std::exception_ptr error;
  std::optional<T> value;
};
template <>
struct Outcome<void> {
  std::exception_ptr error;
};
template <class T>
boost::asio::awaitable<Outcome<T>> capture(boost::asio::awaitable<T> op) {
  Outcome<T> out;
  try {
    if constexpr (std::is_void_v<T>)
      co_await std::move(op);
    else
      out.value.emplace(co_await std::move(op));
  } catch (...) {
    out.error = std::current_exception();
  }
  co_return out;
}
}  // namespace detail

/** Bounds `op` by `timeout`: when it passes, `op` is cancelled (terminal) and
 *  `Error(errc::timeout)` naming `what` is thrown; if `op` fails first, its own error is thrown at
 *  once. A zero or negative timeout means no bound. */
template <class T>
boost::asio::awaitable<T> with_timeout(boost::asio::awaitable<T> op, std::chrono::milliseconds timeout,
                                       std::string what = "operation") {
  using namespace boost::asio::experimental::awaitable_operators;
  if (timeout.count() <= 0) co_return co_await std::move(op);
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, timeout);
  auto r = co_await (detail::capture(std::move(op)) || timer.async_wait(boost::asio::use_awaitable));
  if (r.index() == 1) throw Error(errc::timeout, what + " timed out after " + std::to_string(timeout.count()) + " ms");
  auto& out = std::get<0>(r);
  if (out.error) std::rethrow_exception(out.error);
  if constexpr (!std::is_void_v<T>) co_return std::move(*out.value);
}

/** Owns an io_context and its threads. Thread-safety: all members may be called from any
 *  thread, except that `run` must not be called from one of the runtime's own threads (it would
 *  wait for itself). */
class Runtime {
 public:
  explicit Runtime(RuntimeOptions opts = {});
  /** Calls `shutdown()`. */
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  /** The io_context's executor, for I/O objects and for providers. */
  boost::asio::any_io_executor executor() const noexcept;
  /** The io_context itself. */
  boost::asio::io_context& context() noexcept;
  /** Number of worker threads. */
  unsigned threads() const noexcept;

  /** A cancellable operation started by `run` or `spawn`. */
  class Op {
   public:
    /** Requests terminal cancellation; safe from any thread, idempotent. */
    void cancel();
    /** True once the operation has finished (normally, with an error or cancelled). */
    bool done() const noexcept;

   private:
    friend class Runtime;
    struct State;
    std::shared_ptr<State> st_;
  };

  /** Runs `op` on a fresh strand and blocks until it ends; returns its value or rethrows its
   *  exception (`Error(errc::cancelled)` if it was cancelled by `shutdown`). With a positive
   *  `timeout` the op is cancelled when it passes and `Error(errc::timeout)` is thrown. */
  template <class T>
  T run(boost::asio::awaitable<T> op, std::chrono::milliseconds timeout = std::chrono::milliseconds{0}) {
    std::promise<T> promise;
    auto fut = promise.get_future();
    spawn(std::move(op), [&promise](std::exception_ptr e, auto... v) {
      if (e)
        promise.set_exception(e);
      else
        promise.set_value(std::move(v)...);
    }, timeout);
    return fut.get();
  }

  /** Starts `op` on a fresh strand without waiting. `done(std::exception_ptr[, T])` is called
   *  once on a runtime thread when it ends. The returned handle cancels it. */
  template <class T, class Done>
  Op spawn(boost::asio::awaitable<T> op, Done done,
           std::chrono::milliseconds timeout = std::chrono::milliseconds{0}) {
    Op handle = track();
    auto st = handle.st_;
    boost::asio::co_spawn(
        strand_of(handle), with_timeout(std::move(op), timeout),
        boost::asio::bind_cancellation_slot(
            slot_of(handle), [this, st, done = std::move(done)](std::exception_ptr e, auto... v) mutable {
              e = translate(e);
              untrack(st);
              done(e, std::move(v)...);
            }));
    return handle;
  }

  /** Cancels every operation in flight, waits up to `grace` for them to end, then stops the
   *  io_context and joins the threads. Idempotent. After it, `run`/`spawn` throw
   *  `Error(errc::cancelled)`. */
  void shutdown(std::chrono::milliseconds grace = std::chrono::milliseconds{5000});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Op track();
  void untrack(const std::shared_ptr<Op::State>& st);
  static boost::asio::strand<boost::asio::io_context::executor_type>& strand_of(Op& op);
  static boost::asio::cancellation_slot slot_of(Op& op);
  // Turns Asio's operation_aborted into Error(errc::cancelled); passes everything else through.
  static std::exception_ptr translate(std::exception_ptr e);
};

}  // namespace v1
}  // namespace mlrc
