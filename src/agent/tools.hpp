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
class Retriever;
enum class Corpus;
namespace detail {
/** retrieve_papers / retrieve_code / retrieve_models / retrieve_datasets over `retriever`. */
std::shared_ptr<Tool> retrieval_tool(std::shared_ptr<Retriever> retriever, Corpus corpus);
}  // namespace detail
}  // namespace v1
}  // namespace mlrc
