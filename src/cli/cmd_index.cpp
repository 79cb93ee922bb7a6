#include "cli/cmd_index.hpp"

#include "cli/args.hpp"

#include <mlrcopilot/error.hpp>
#include <mlrcopilot/online.hpp>
#include <mlrcopilot/retriever.hpp>
#include <mlrcopilot/runtime.hpp>

#include <boost/json.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <stdexcept>

#include <unistd.h>

namespace mlrc {
inline namespace v1 {

namespace {

constexpr int exit_ok = 0, exit_failed = 1, exit_usage = 2, exit_bad_input = 3;

using Usage = cli::UsageError;
using cli::Args;

const char* index_help = R"(Usage: mlrc index <command> [options]

The local full-text index (BM25F) of papers, code, models or datasets; works offline.

Commands:
  build    build an index from files, replacing what the folder held
  add      add files to an index as a new segment
  search   search an index
  stats    print figures about an index

Run 'mlrc index <command> --help' for a command's options.
Exit codes: 0 ok, 1 failure, 2 usage error, 3 bad input (empty query, missing index, bad file).
)";

const char* build_help = R"(Usage: mlrc index build --kind papers|code|models|datasets --index DIR FILE_OR_DIR...

Builds an index in DIR from the inputs, replacing any index there (atomically: readers see the
old index until the new one is complete).
  papers, models, datasets: JSON-lines files, plain or gzip, or folders of *.jsonl[.gz] files.
    Papers: our format (id, title, abstract, authors, year, venue_or_categories), Semantic
    Scholar Graph API records, the Kaggle arXiv metadata snapshot. Models/datasets: Hugging Face
    Hub records.
  code: folders or source files; one document per file and per Python def/class.
Malformed records are reported as FILE:LINE warnings on stderr; the rest is indexed.

Options:
  --kind K            corpus kind (required)
  --index DIR         index folder (required)
  --segment-docs N    documents per segment file (default 500000)
)";

const char* add_help = R"(Usage: mlrc index add --index DIR [--kind K] FILE_OR_DIR...

Adds the inputs to the index in DIR as a new segment; records whose id is already indexed are
skipped. --kind, if given, must match the index.
)";

const char* search_help = R"(Usage: mlrc index search --index DIR [options] QUERY...
       mlrc index search --source SPEC [--index DIR] [options] QUERY...

With --source, online sources are asked in order until one answers (429, 5xx, timeouts and
network errors move on to the next); "local" in SPEC is the index in --index. SPEC is a comma
list of s2, openalex, arxiv, hf, github, github-code, local or local:PATH (e.g.
"s2,openalex,arxiv,local"). Which source answered and which failed is printed on stderr.
Base URLs from MLRC_S2_URL, MLRC_OPENALEX_URL, MLRC_ARXIV_URL, MLRC_HF_URL, MLRC_GITHUB_URL; keys
from S2_API_KEY, HF_TOKEN, GITHUB_TOKEN; responses cached in $MLRC_HOME/cache/http.

Options:
  --kind K          corpus to search (needed when DIR holds several: papers/, code/, …;
                    with --source the default is papers)
  --source SPEC     online sources, tried in order (see above)
  --cache-dir DIR   response cache folder (default $MLRC_HOME/cache/http)
  --no-cache        do not read or write the response cache
  --timeout-ms N    deadline of each source (default 15000)
  --top N           number of hits (default 10)
  --year-min Y      only records from year Y on
  --year-max Y      only records up to year Y
  --venue S         venue / arXiv category / HF domain contains S (case-insensitive)
  --tag T           has tag T, e.g. cs.CL, text-classification (case-insensitive)
  --license L       license is L, e.g. apache-2.0 (case-insensitive)
  --json            one JSON object per hit per line (rank, id, score, title, source, snippet, fields)
)";

const char* stats_help = R"(Usage: mlrc index stats --index DIR [--json]

Prints the corpus, format version, segments, documents, terms and size of an index.
)";

Args parse(const std::vector<std::string>& argv, std::size_t from, const std::vector<std::string>& flags,
           const std::vector<std::string>& valued) {
  return cli::parse_args(argv, flags, valued, from);
}

long number(const Args& a, const std::string& name, long def, long min) {
  if (!a.has(name)) return def;
  auto v = a.get(name);
  try {
    std::size_t n = 0;
    long x = std::stol(v, &n);
    if (n == v.size() && x >= min) return x;
  } catch (const std::exception&) {
  }
  throw Usage("option --" + name + ": '" + v + "' is not an integer >= " + std::to_string(min));
}

std::filesystem::path need_index(const Args& a) {
  if (!a.has("index") || a.get("index").empty()) throw Usage("--index DIR is required");
  return a.get("index");
}

Corpus kind(const Args& a) {
  try {
    return parse_corpus(a.get("kind"));
  } catch (const Error& e) {
    throw Usage(e.what());
  }
}

// Progress on stderr: \r updates on a terminal, a line every 10,000 records otherwise.
IndexBuilder::ProgressFn progress_printer() {
  bool tty = ::isatty(2) != 0;
  auto last = std::make_shared<std::uint64_t>(0);
  auto last_time = std::make_shared<double>(-1);
  return [tty, last, last_time](const IngestProgress& p) {
    double rate = p.seconds > 0 ? double(p.records) / p.seconds : 0;
    if (tty) {
      if (!p.done && p.seconds - *last_time < 0.2) return;
      *last_time = p.seconds;
      std::fprintf(stderr, "\r%12llu records  %9.0f records/s  %llu warnings  %s\033[K", (unsigned long long)p.records, rate,
                   (unsigned long long)p.warnings, p.done ? "done\n" : p.file.c_str());
    } else if (p.records / 10000 != *last / 10000) {
      std::fprintf(stderr, "%llu records  %.0f records/s  %s\n", (unsigned long long)p.records, rate, p.file.c_str());
    }
    *last = p.records;
    std::fflush(stderr);
  };
}

void report(const IngestReport& r, const std::filesystem::path& dir) {
  std::size_t shown = 0;
  for (auto& w : r.warnings) {
    if (++shown > 20) break;
    std::cerr << "warning: " << w << "\n";
  }
  if (r.warning_count > 20) std::cerr << "warning: … and " << (r.warning_count - 20) << " more\n";
  std::fprintf(stderr, "indexed %llu records (%llu duplicates skipped, %llu warnings) in %.1f s into %s\n",
               (unsigned long long)r.added, (unsigned long long)r.duplicates, (unsigned long long)r.warning_count,
               double(r.elapsed.count()) / 1000.0, dir.string().c_str());
}

std::vector<std::filesystem::path> inputs(const Args& a) {
  if (a.pos.empty()) throw Usage("give at least one input file or folder");
  return {a.pos.begin(), a.pos.end()};
}

int build(const std::vector<std::string>& argv) {
  auto a = parse(argv, 1, {}, {"kind", "index", "segment-docs"});
  if (a.has("help")) return std::cout << build_help, exit_ok;
  if (!a.has("kind")) throw Usage("--kind is required (papers, code, models, datasets)");
  auto c = kind(a);
  auto dir = need_index(a);
  IndexOptions o;
  o.segment_docs = static_cast<std::size_t>(number(a, "segment-docs", long(o.segment_docs), 1));
  auto in = inputs(a);
  auto r = IndexBuilder(dir, o).build(c, in, progress_printer());
  report(r, dir);
  return exit_ok;
}

int add(const std::vector<std::string>& argv) {
  auto a = parse(argv, 1, {}, {"kind", "index"});
  if (a.has("help")) return std::cout << add_help, exit_ok;
  auto dir = need_index(a);
  auto in = inputs(a);
  IndexBuilder b(dir);
  if (a.has("kind") && b.stats().corpus != kind(a))
    throw Error(errc::invalid_argument, "index " + dir.string() + " holds " + corpus_name(b.stats().corpus) + ", not " + a.get("kind"));
  report(b.add(in, progress_printer()), dir);
  return exit_ok;
}

int search(const std::vector<std::string>& argv) {
  auto a = parse(argv, 1, {"json", "no-cache"},
                 {"kind", "index", "top", "year-min", "year-max", "venue", "tag", "license", "source", "cache-dir", "timeout-ms"});
  if (a.has("help")) return std::cout << search_help, exit_ok;
  const bool online = a.has("source");
  Query q;
  for (auto& p : a.pos) q.text += (q.text.empty() ? "" : " ") + p;
  q.top_k = static_cast<std::size_t>(number(a, "top", 10, 0));
  if (a.has("year-min")) q.year_min = static_cast<int>(number(a, "year-min", 0, 0));
  if (a.has("year-max")) q.year_max = static_cast<int>(number(a, "year-max", 0, 0));
  q.venue_or_category = a.get("venue");
  q.tag = a.get("tag");
  q.license = a.get("license");
  std::vector<Hit> hits;
  if (online) {
    OnlineConfig cfg;
    if (a.has("index")) cfg.local_index = a.get("index");
    cfg.cache = !a.has("no-cache");
    if (a.has("cache-dir")) cfg.defaults.cache.dir = a.get("cache-dir");
    if (a.has("timeout-ms")) {
      auto ms = std::chrono::milliseconds(number(a, "timeout-ms", 15000, 1));
      cfg.fallback.per_source_timeout = ms;
      cfg.defaults.timeout = ms;
    }
    cfg.fallback.on_attempt = [](const SourceAttempt& at) {
      if (at.skipped) return;
      if (at.answered)
        std::fprintf(stderr, "source %s answered: %zu hits in %lld ms\n", at.source.c_str(), at.hits, (long long)at.elapsed.count());
      else
        std::fprintf(stderr, "source %s failed (%s): %s\n", at.source.c_str(), errc_name(at.code), at.error.c_str());
    };
    q.corpus = a.has("kind") ? kind(a) : Corpus::papers;
    Runtime rt;
    std::shared_ptr<FallbackRetriever> r;
    try {
      r = make_online_retriever(rt.executor(), a.get("source"), std::move(cfg));
    } catch (const Error& e) {
      if (e.code_enum() == errc::config) throw Usage("--source: " + std::string(e.what()));
      throw;
    }
    hits = rt.run(r->search(q));
  } else {
    auto dir = need_index(a);
    LocalRetriever r(dir);
    if (a.has("kind")) {
      q.corpus = kind(a);
    } else {
      auto cs = r.corpora();
      if (cs.size() != 1) throw Usage("--kind is required: " + dir.string() + " holds several corpora");
      q.corpus = cs[0];
    }
    hits = r.find(q);
  }
  std::size_t rank = 0;
  for (auto& h : hits) {
    ++rank;
    if (a.has("json")) {
      auto src = h.fields.find("source");
      boost::json::object o{{"rank", rank},   {"id", h.id}, {"score", h.score}, {"title", h.title},
                            {"source", src != h.fields.end() ? src->second : std::string("local")}, {"snippet", h.snippet}};
      boost::json::array m(h.matched_fields.begin(), h.matched_fields.end());
      o["matched_fields"] = std::move(m);
      boost::json::object f;
      for (auto& [k, v] : h.fields) f[k] = v;
      o["fields"] = std::move(f);
      std::cout << boost::json::serialize(o) << "\n";
      continue;
    }
    std::string where;
    auto field = [&](const char* key) {
      auto it = h.fields.find(key);
      return it == h.fields.end() ? std::string() : it->second;
    };
    for (auto key : {"year", "venue", "license", "pipeline_tag", "kind"})
      if (auto v = field(key); !v.empty()) where += (where.empty() ? "" : ", ") + v;
    if (online) where += (where.empty() ? "" : ", ") + ("from " + field("source"));
    if (auto a = field("line_start"), b = field("line_end"); !a.empty()) where += (where.empty() ? "" : ", ") + ("lines " + a + "-" + b);
    std::printf("%2zu. %7.3f  %s%s\n", rank, h.score, h.id.c_str(), where.empty() ? "" : ("  (" + where + ")").c_str());
    if (h.title != h.id) std::printf("    %s\n", h.title.c_str());
    std::string flat;  // the snippet on one line (code snippets span several)
    for (char c : h.snippet)
      if (!((c == ' ' || c == '\n' || c == '\t' || c == '\r') && (flat.empty() || flat.back() == ' '))) flat += (c == '\n' || c == '\t' || c == '\r') ? ' ' : c;
    if (!flat.empty() && flat != h.title) std::printf("    %s\n", flat.c_str());
  }
  if (hits.empty() && !a.has("json")) std::fprintf(stderr, "no hits\n");
  return exit_ok;
}

int stats(const std::vector<std::string>& argv) {
  auto a = parse(argv, 1, {"json"}, {"index", "kind"});
  if (a.has("help")) return std::cout << stats_help, exit_ok;
  LocalRetriever r(need_index(a));
  for (auto c : r.corpora()) {
    if (a.has("kind") && c != kind(a)) continue;
    auto s = r.stats(c);
    boost::json::object fields;
    for (auto& [n, w] : s.field_weights) fields[n] = w;
    if (a.has("json")) {
      boost::json::object o{{"corpus", corpus_name(c)},  {"format_version", s.format_version}, {"generation", s.generation},
                            {"segments", s.segments},    {"documents", s.documents},           {"terms", s.terms},
                            {"postings", s.postings},    {"bytes", s.bytes},                   {"field_weights", fields}};
      std::cout << boost::json::serialize(o) << "\n";
    } else {
      std::string weights;
      for (auto& [n, w] : s.field_weights) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%s%s %g", weights.empty() ? "" : ", ", n.c_str(), w);
        weights += buf;
      }
      std::printf("corpus          %s\nformat version  %u\ngeneration      %llu\nsegments        %zu\ndocuments       %llu\n"
                  "terms           %llu\npostings        %llu\nsize            %.1f MiB\nfield weights   %s\n",
                  corpus_name(c), s.format_version, (unsigned long long)s.generation, s.segments,
                  (unsigned long long)s.documents, (unsigned long long)s.terms, (unsigned long long)s.postings,
                  double(s.bytes) / (1 << 20), weights.c_str());
    }
  }
  return exit_ok;
}

}  // namespace

int cmd_index(const std::vector<std::string>& argv) {
  try {
    if (argv.empty() || argv[0] == "--help" || argv[0] == "-h" || argv[0] == "help") {
      std::cout << index_help;
      return argv.empty() ? exit_usage : exit_ok;
    }
    const auto& cmd = argv[0];
    if (cmd == "build") return build(argv);
    if (cmd == "add") return add(argv);
    if (cmd == "search") return search(argv);
    if (cmd == "stats") return stats(argv);
    throw cli::UsageError("unknown index command '" + cmd + "' (build, add, search, stats)");
  } catch (const cli::UsageError& e) {
    std::cerr << "mlrc index: " << e.what() << "\nRun 'mlrc index --help' for usage.\n";
    return exit_usage;
  } catch (const Error& e) {
    std::cerr << "mlrc index: " << e.what() << "\n";
    switch (e.code_enum()) {
      case errc::invalid_argument:
      case errc::not_found:
      case errc::parse:
      case errc::unsupported: return exit_bad_input;
      default: return exit_failed;
    }
  } catch (const std::exception& e) {
    std::cerr << "mlrc index: " << e.what() << "\n";
    return exit_failed;
  }
}

}  // namespace v1
}  // namespace mlrc
