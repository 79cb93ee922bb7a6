#include <mlrcopilot/runtime.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>
#include <vector>

namespace mlrc {
inline namespace v1 {

namespace asio = boost::asio;

struct Runtime::Op::State {
  explicit State(asio::io_context& ioc) : strand(asio::make_strand(ioc)) {}
  asio::strand<asio::io_context::executor_type> strand;
  asio::cancellation_signal signal;  // emitted only on `strand`
  std::atomic<bool> done{false};
};

void Runtime::Op::cancel() {
  if (!st_ || st_->done) return;
  auto st = st_;
  // cancellation_signal is not thread-safe: emit on the op's own strand.
  asio::post(st->strand, [st] {
    if (!st->done) st->signal.emit(asio::cancellation_type::terminal);
  });
}

bool Runtime::Op::done() const noexcept { return !st_ || st_->done; }

struct Runtime::Impl {
  asio::io_context ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::vector<std::thread> threads;
  std::mutex mu;
  std::condition_variable idle;
  std::unordered_set<std::shared_ptr<Op::State>> live;
  bool stopping = false;
  bool stopped = false;
};

Runtime::Runtime(RuntimeOptions opts) : impl_(std::make_unique<Impl>()) {
  unsigned n = opts.threads ? opts.threads : std::max(1u, std::thread::hardware_concurrency());
  impl_->guard.emplace(impl_->ioc.get_executor());
  impl_->threads.reserve(n);
  for (unsigned i = 0; i < n; ++i) impl_->threads.emplace_back([this] { impl_->ioc.run(); });
}

Runtime::~Runtime() { shutdown(); }

asio::any_io_executor Runtime::executor() const noexcept { return impl_->ioc.get_executor(); }
asio::io_context& Runtime::context() noexcept { return impl_->ioc; }
unsigned Runtime::threads() const noexcept { return static_cast<unsigned>(impl_->threads.size()); }

Runtime::Op Runtime::track() {
  Op op;
  std::lock_guard lk(impl_->mu);
  if (impl_->stopping) throw Error(errc::cancelled, "runtime is shutting down");
  op.st_ = std::make_shared<Op::State>(impl_->ioc);
  impl_->live.insert(op.st_);
  return op;
}

void Runtime::untrack(const std::shared_ptr<Op::State>& st) {
  st->done = true;
  std::lock_guard lk(impl_->mu);
  impl_->live.erase(st);
  if (impl_->live.empty()) impl_->idle.notify_all();
}

asio::strand<asio::io_context::executor_type>& Runtime::strand_of(Op& op) { return op.st_->strand; }
asio::cancellation_slot Runtime::slot_of(Op& op) { return op.st_->signal.slot(); }

std::exception_ptr Runtime::translate(std::exception_ptr e) {
  if (!e) return e;
  try {
    std::rethrow_exception(e);
  } catch (const boost::system::system_error& se) {
    if (se.code() == asio::error::operation_aborted) return std::make_exception_ptr(Error(errc::cancelled, "operation cancelled"));
  } catch (...) {
  }
  return e;
}

void Runtime::shutdown(std::chrono::milliseconds grace) {
  std::vector<std::shared_ptr<Op::State>> live;
  {
    std::lock_guard lk(impl_->mu);
    if (impl_->stopped) return;
    impl_->stopping = true;
    live.assign(impl_->live.begin(), impl_->live.end());
  }
  for (auto& st : live) {
    Op op;
    op.st_ = st;
    op.cancel();
  }
  {
    std::unique_lock lk(impl_->mu);
    impl_->idle.wait_for(lk, grace, [&] { return impl_->live.empty(); });
    impl_->stopped = true;
  }
  impl_->guard.reset();
  impl_->ioc.stop();
  for (auto& t : impl_->threads)
    if (t.joinable() && t.get_id() != std::this_thread::get_id()) t.join();
  impl_->threads.clear();
}

}  // namespace v1
}  // namespace mlrc
