#pragma once
// The built-in tools of the ExperimentAgent.
#include <mlrcopilot/agent.hpp>

#include <memory>
#include <vector>

namespace mlrc {
inline namespace v1 {
namespace detail {
std::vector<std::shared_ptr<Tool>> builtin_tools();
}  // namespace detail
}  // namespace v1
}  // namespace mlrc
