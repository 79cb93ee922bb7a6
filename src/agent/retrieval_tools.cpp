// Agent tools over a Retriever: prototype code, models, datasets and papers.
#include "agent/tools.hpp"

#include <mlrcopilot/retriever.hpp>

#include <simdjson.h>

namespace mlrc {
inline namespace v1 {
namespace detail {

namespace {
class RetrieveTool final : public Tool {
 public:
  RetrieveTool(std::shared_ptr<Retriever> r, Corpus c) : r_(std::move(r)), c_(c) {}
  ToolSpec spec() const override {
    std::string what = corpus_name(c_);
    return {"retrieve_" + what,
            "Search the " + what + " index (" +
                (c_ == Corpus::code     ? std::string("prototype code: files and Python functions/classes")
                 : c_ == Corpus::models ? std::string("Hugging Face models")
                 : c_ == Corpus::datasets ? std::string("Hugging Face datasets")
                                          : std::string("papers")) +
                "); returns ids, titles and snippets.",
            R"({"type":"object","properties":{"query":{"type":"string","description":"what to look for"},"top_k":{"type":"integer","description":"number of results, default 5"}},"required":["query"]})"};
  }
  boost::asio::awaitable<ToolOutput> call(const std::string& args, ToolContext&) override {
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    std::string_view q;
    if (p.parse(args).get(doc) || doc["query"].get_string().get(q))
      co_return ToolOutput{spec().name + ": argument 'query' (a string) is required", true};
    std::int64_t k = 5;
    if (doc["top_k"].get_int64().get(k)) k = 5;
    Query query;
    query.text = std::string(q);
    query.corpus = c_;
    query.top_k = static_cast<std::size_t>(std::clamp<std::int64_t>(k, 1, 20));
    auto hits = co_await r_->search(query);
    std::string out;
    for (auto& h : hits) {
      out += "- " + h.id + (h.title.empty() ? "" : ": " + h.title) + "\n  " + h.snippet.substr(0, 300) + "\n";
      for (const char* f : {"path", "line_start", "line_end", "license", "year"})
        if (auto it = h.fields.find(f); it != h.fields.end()) out += "  " + std::string(f) + ": " + it->second + "\n";
    }
    co_return ToolOutput{out.empty() ? "no results" : out};
  }

 private:
  std::shared_ptr<Retriever> r_;
  Corpus c_;
};
}  // namespace

std::shared_ptr<Tool> retrieval_tool(std::shared_ptr<Retriever> retriever, Corpus corpus) {
  return std::make_shared<RetrieveTool>(std::move(retriever), corpus);
}

}  // namespace detail
}  // namespace v1
}  // namespace mlrc
