#include <mlrcopilot/agent.hpp>
#include <mlrcopilot/error.hpp>
#include <mlrcopilot/feedback.hpp>
#include <mlrcopilot/planner.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <future>
#include <iostream>
#include <memory>
#include <thread>

#include <poll.h>
#include <unistd.h>

namespace mlrc {
inline namespace v1 {

unsigned parse_gates(std::string_view list) {
  unsigned g = gate_none;
  std::size_t pos = 0;
  while (pos <= list.size()) {
    auto comma = list.find(',', pos);
    std::string_view item = list.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    if (item == "ideas") g |= gate_after_ideas;
    else if (item == "exec") g |= gate_before_execution;
    else if (item == "step") g |= gate_after_step;
    else if (item == "help") g |= gate_on_help;
    else if (item == "all") g |= gate_after_ideas | gate_before_execution | gate_after_step | gate_on_help;
    else if (item == "none" || item.empty()) {
    } else
      throw Error(errc::invalid_argument, "unknown gate '" + std::string(item) + "' (known: ideas, exec, step, help, all, none)");
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return g;
}

template <class T>
std::optional<T> answer_within(std::chrono::seconds timeout, std::function<std::optional<T>()> fn) {
  auto task = std::make_shared<std::packaged_task<std::optional<T>()>>(std::move(fn));
  auto fut = task->get_future();
  std::thread([task] { (*task)(); }).detach();
  if (fut.wait_for(timeout) != std::future_status::ready) return std::nullopt;
  try {
    return fut.get();
  } catch (...) {
    return std::nullopt;
  }
}
template <class T>
boost::asio::awaitable<std::optional<T>> answer_within_async(std::chrono::seconds timeout, std::function<std::optional<T>()> fn) {
  namespace asio = boost::asio;
  using clock = std::chrono::steady_clock;
  auto task = std::make_shared<std::packaged_task<std::optional<T>()>>(std::move(fn));
  auto fut = std::make_shared<std::future<std::optional<T>>>(task->get_future());
  std::thread([task] { (*task)(); }).detach();
  // The helper thread only touches its own task: the coroutine polls it, so nothing is posted to
  // an executor that may be gone by the time a late answer comes.
  const auto deadline = clock::now() + timeout;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (fut->wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    auto now = clock::now();
    if (now >= deadline) co_return std::nullopt;
    timer.expires_after(std::min<clock::duration>(std::chrono::milliseconds(20), deadline - now));
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted) throw Error(errc::cancelled, "cancelled while waiting at a feedback gate");
  }
  try {
    co_return fut->get();
  } catch (...) {
    co_return std::nullopt;
  }
}
template boost::asio::awaitable<std::optional<std::size_t>> answer_within_async(std::chrono::seconds, std::function<std::optional<std::size_t>()>);
template boost::asio::awaitable<std::optional<bool>> answer_within_async(std::chrono::seconds, std::function<std::optional<bool>()>);
template boost::asio::awaitable<std::optional<std::string>> answer_within_async(std::chrono::seconds, std::function<std::optional<std::string>()>);

template std::optional<std::size_t> answer_within(std::chrono::seconds, std::function<std::optional<std::size_t>()>);
template std::optional<bool> answer_within(std::chrono::seconds, std::function<std::optional<bool>()>);
template std::optional<std::string> answer_within(std::chrono::seconds, std::function<std::optional<std::string>()>);

std::optional<std::string> ConsoleFeedback::read_line(const std::string& prompt) {
  std::cerr << prompt << std::flush;
  pollfd pfd{0, POLLIN, 0};
  if (::poll(&pfd, 1, static_cast<int>(timeout_.count() * 1000)) <= 0) {
    std::cerr << "\n(no answer within " << timeout_.count() << " s: taking the default)\n";
    return std::nullopt;
  }
  std::string line;
  if (!std::getline(std::cin, line)) return std::nullopt;
  return line;
}

std::optional<std::size_t> ConsoleFeedback::choose_idea(const std::vector<Idea>& ideas, std::string& extra) {
  std::cerr << "\nIdeas (best first):\n";
  for (std::size_t i = 0; i < ideas.size(); ++i) std::cerr << "  [" << i + 1 << "] " << ideas[i].title << " (score " << ideas[i].score << ")\n";
  auto line = read_line("Implement which idea? [1] (you may add instructions after the number): ");
  if (!line || line->empty()) return std::nullopt;
  std::size_t n = 0, used = 0;
  try {
    n = std::stoul(*line, &used);
  } catch (...) {
    return std::nullopt;
  }
  if (n < 1 || n > ideas.size()) return std::nullopt;
  if (used < line->size()) extra = line->substr(used);
  return n - 1;
}

std::optional<bool> ConsoleFeedback::approve_execution(const std::string& command) {
  auto line = read_line("Run `" + command + "`? [Y/n] ");
  if (!line || line->empty()) return std::nullopt;
  return !(line->front() == 'n' || line->front() == 'N');
}

std::string ConsoleFeedback::after_step(const AgentStep& step) {
  auto line = read_line("Step " + std::to_string(step.index) + " (" + step.tool + ") done. Feedback for the agent (empty: none): ");
  return line.value_or("");
}

std::optional<std::string> ConsoleFeedback::help(const std::string& question) {
  auto line = read_line("The agent asks for help: " + question + "\nYour answer: ");
  if (!line || line->empty()) return std::nullopt;
  return line;
}

}  // namespace v1
}  // namespace mlrc
