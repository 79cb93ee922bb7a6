// The online sources (online.hpp): thin classes over OnlineSource and the sans-io API code.
#include "retrieval/online/apis.hpp"
#include "retrieval/online/source.hpp"

#include <mlrcopilot/online.hpp>
#include <mlrcopilot/task.hpp>

namespace mlrc {
inline namespace v1 {

namespace asio = boost::asio;
using detail::OnlineSource;
using detail::SourceSpec;
namespace api = detail::online;

std::filesystem::path default_http_cache_dir() { return default_home() / "cache" / "http"; }

OnlineRetriever::OnlineRetriever(std::shared_ptr<OnlineSource> src) : src_(std::move(src)) {}
OnlineRetriever::~OnlineRetriever() = default;
std::string OnlineRetriever::name() const { return src_->spec().name; }
std::vector<Corpus> OnlineRetriever::corpora() const { return src_->spec().corpora; }
std::string OnlineRetriever::base_url() const { return src_->base(); }

namespace {

void serves(const OnlineSource& s, const Query& q) {
  const auto& cs = s.spec().corpora;
  if (std::find(cs.begin(), cs.end(), q.corpus) == cs.end())
    throw s.error(errc::not_found, std::string("has no ") + corpus_name(q.corpus) + " (it serves " +
                                       [&] {
                                         std::string names;
                                         for (auto c : cs) names += (names.empty() ? "" : ", ") + std::string(corpus_name(c));
                                         return names;
                                       }() +
                                       ")");
  api::check_query(q);
}

using Records = std::vector<api::Record>;

std::shared_ptr<OnlineSource> s2_source(asio::any_io_executor ex, OnlineOptions o) {
  SourceSpec s{.name = "s2",
               .display = "semantic scholar",
               .default_base = "https://api.semanticscholar.org",
               .url_env = "MLRC_S2_URL",
               .key_envs = {"S2_API_KEY", "SEMANTIC_SCHOLAR_API_KEY"},
               .key_header = SourceSpec::KeyHeader::x_api_key,
               .corpora = {Corpus::papers}};
  return std::make_shared<OnlineSource>(std::move(ex), std::move(s), std::move(o));
}

std::shared_ptr<OnlineSource> openalex_source(asio::any_io_executor ex, OnlineOptions o) {
  if (o.mailto.empty() && o.use_env)
    if (const char* m = std::getenv("OPENALEX_MAILTO")) o.mailto = m;
  SourceSpec s{.name = "openalex",
               .display = "openalex",
               .default_base = "https://api.openalex.org",
               .url_env = "MLRC_OPENALEX_URL",
               .corpora = {Corpus::papers}};
  return std::make_shared<OnlineSource>(std::move(ex), std::move(s), std::move(o));
}

std::shared_ptr<OnlineSource> arxiv_source(asio::any_io_executor ex, OnlineOptions o) {
  SourceSpec s{.name = "arxiv",
               .display = "arxiv",
               .default_base = "https://export.arxiv.org",
               .url_env = "MLRC_ARXIV_URL",
               .accept = "application/atom+xml",
               .corpora = {Corpus::papers}};
  return std::make_shared<OnlineSource>(std::move(ex), std::move(s), std::move(o));
}

std::shared_ptr<OnlineSource> hf_source(asio::any_io_executor ex, OnlineOptions o) {
  SourceSpec s{.name = "hf",
               .display = "hugging face",
               .default_base = "https://huggingface.co",
               .url_env = "MLRC_HF_URL",
               .key_envs = {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"},
               .key_header = SourceSpec::KeyHeader::bearer,
               .corpora = {Corpus::models, Corpus::datasets}};
  return std::make_shared<OnlineSource>(std::move(ex), std::move(s), std::move(o));
}

std::shared_ptr<OnlineSource> github_source(asio::any_io_executor ex, OnlineOptions o, GitHubRetriever::Mode mode) {
  bool code = mode == GitHubRetriever::Mode::code;
  SourceSpec s{.name = code ? "github-code" : "github",
               .display = code ? "github code search" : "github",
               .default_base = "https://api.github.com",
               .url_env = "MLRC_GITHUB_URL",
               .key_envs = {"GITHUB_TOKEN", "GH_TOKEN"},
               .key_header = SourceSpec::KeyHeader::bearer,
               // text-match: code hits come with the matching fragments.
               .accept = code ? "application/vnd.github.text-match+json" : "application/vnd.github+json",
               .extra_headers = {{"x-github-api-version", "2022-11-28"}},
               .corpora = {Corpus::code}};
  return std::make_shared<OnlineSource>(std::move(ex), std::move(s), std::move(o));
}

}  // namespace

// ---- Semantic Scholar

SemanticScholarRetriever::SemanticScholarRetriever(asio::any_io_executor ex, OnlineOptions opts)
    : OnlineRetriever(s2_source(std::move(ex), std::move(opts))) {}

asio::awaitable<std::vector<Hit>> SemanticScholarRetriever::search(Query q) {
  serves(*src_, q);
  bool here = !q.venue_or_category.empty() || !q.tag.empty() || !q.license.empty();
  auto recs = co_await src_->get<Records>(api::s2_search_target(q, api::fetch_limit(q, here, 100)), api::s2_parse_search);
  co_return api::finish(q, std::move(recs), name());
}

asio::awaitable<Hit> SemanticScholarRetriever::paper(std::string id) {
  if (id.empty()) throw src_->error(errc::invalid_argument, "paper(): empty id");
  auto rec = co_await src_->get<api::Record>(api::s2_paper_target(id), api::s2_parse_paper);
  Hit h = std::move(rec.hit);
  h.score = 1;
  h.fields["source"] = name();
  co_return h;
}

asio::awaitable<std::vector<Hit>> SemanticScholarRetriever::recommend(std::string id, std::size_t k) {
  if (id.empty()) throw src_->error(errc::invalid_argument, "recommend(): empty id");
  auto recs = co_await src_->get<Records>(api::s2_recommend_target(id, std::clamp<std::size_t>(k, 1, 500)), api::s2_parse_recommendations);
  std::vector<Hit> out;
  for (std::size_t i = 0; i < recs.size() && out.size() < k; ++i) {
    Hit h = std::move(recs[i].hit);
    h.score = 1.0 / double(i + 1);
    h.fields["source"] = name();
    out.push_back(std::move(h));
  }
  co_return out;
}

// ---- OpenAlex

OpenAlexRetriever::OpenAlexRetriever(asio::any_io_executor ex, OnlineOptions opts)
    : OnlineRetriever(openalex_source(std::move(ex), std::move(opts))) {}

asio::awaitable<std::vector<Hit>> OpenAlexRetriever::search(Query q) {
  serves(*src_, q);
  bool here = !q.venue_or_category.empty() || !q.tag.empty() || !q.license.empty();
  auto recs = co_await src_->get<Records>(api::openalex_target(q, api::fetch_limit(q, here, 200), src_->options().mailto),
                                          api::openalex_parse);
  co_return api::finish(q, std::move(recs), name());
}

// ---- arXiv

ArxivRetriever::ArxivRetriever(asio::any_io_executor ex, OnlineOptions opts)
    : OnlineRetriever(arxiv_source(std::move(ex), std::move(opts))) {}

asio::awaitable<std::vector<Hit>> ArxivRetriever::search(Query q) {
  serves(*src_, q);
  bool here = !q.license.empty() || (!q.venue_or_category.empty() && !api::arxiv_category(q.venue_or_category)) ||
              (!q.tag.empty() && !api::arxiv_category(q.tag));
  auto recs = co_await src_->get<Records>(api::arxiv_target(q, api::fetch_limit(q, here, 300)), api::arxiv_parse);
  co_return api::finish(q, std::move(recs), name());
}

// ---- Hugging Face

HuggingFaceRetriever::HuggingFaceRetriever(asio::any_io_executor ex, OnlineOptions opts)
    : OnlineRetriever(hf_source(std::move(ex), std::move(opts))) {}

asio::awaitable<std::vector<Hit>> HuggingFaceRetriever::search(Query q) {
  serves(*src_, q);
  bool here = !q.venue_or_category.empty() || q.year_min || q.year_max;
  Corpus c = q.corpus;
  std::function<Records(std::string_view)> parse = [c](std::string_view body) { return api::hf_parse(c, body); };
  auto recs = co_await src_->get<Records>(api::hf_target(c, q, api::fetch_limit(q, here, 1000)), parse);
  co_return api::finish(q, std::move(recs), name());
}

// ---- GitHub

GitHubRetriever::GitHubRetriever(asio::any_io_executor ex, OnlineOptions opts, Mode mode)
    : OnlineRetriever(github_source(std::move(ex), std::move(opts), mode)) {}

asio::awaitable<std::vector<Hit>> GitHubRetriever::search(Query q) {
  serves(*src_, q);
  bool code = src_->spec().name == "github-code";
  if (code && src_->key().empty())
    throw src_->error(errc::auth, "code search needs a token: set GITHUB_TOKEN (or OnlineOptions::api_key); "
                                  "GitHub answers /search/code only to authenticated requests");
  bool here = code ? (!q.venue_or_category.empty() || !q.tag.empty() || !q.license.empty() || q.year_min || q.year_max)
                   : !q.venue_or_category.empty();
  std::function<Records(std::string_view)> parse = [code](std::string_view body) { return api::github_parse(code, body); };
  auto recs = co_await src_->get<Records>(api::github_target(code, q, api::fetch_limit(q, here, 100)), parse);
  co_return api::finish(q, std::move(recs), name());
}

}  // namespace v1
}  // namespace mlrc
