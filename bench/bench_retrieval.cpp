// The local index (BM25F over memory-mapped segments) against SQLite FTS5 — and Xapian when the
// bench was built with libxapian-dev — on the 123k-paper corpus: build time and size, query
// latency, and known-item search quality.
//
//   mlrc_bench_retrieval [--data DIR] [--work DIR] [--queries N] [--fts-tokenizer "unicode61"] [--keep]
//
// --data holds the *.jsonl.gz paper files (default: ../shared/data/papers next to the source tree;
// the sample/ folder is not read). Both engines read the same files through the same parser; the
// files are read once before timing so that both builds find them in the page cache.
//
// Known-item queries: N papers chosen with a fixed seed. Set A: the first sentence of the abstract.
// Set B: the title reworded: stop words dropped, one word dropped (when 3+ remain), order shuffled.
// FTS5 gets the same words, each quoted, joined by OR, ranked by bm25(fts, 3.0, 1.0) (title
// weight 3, abstract 1 as in our engine), and the same stop words removed from the query.
// Xapian (1.4, its default BM25 weighting) indexes the title with wdf increment 3 and the abstract
// with 1 (without positions), English stemming (STEM_SOME, its default), one commit; queries are
// the same words OR-ed, stemmed like the index.
#include <mlrcopilot/retriever.hpp>

#include "retrieval/ingest.hpp"
#include "retrieval/tokenizer.hpp"

#include <sqlite3.h>
#ifdef MLRC_HAVE_XAPIAN
#include <xapian.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <stdlib.h>
#include <sys/resource.h>

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// CPU seconds (user + system) of this process: robust when other work shares the machine.
double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

std::uint64_t dir_bytes(const fs::path& p) {
  std::uint64_t n = 0;
  if (fs::is_regular_file(p)) return fs::file_size(p);
  for (auto& e : fs::recursive_directory_iterator(p))
    if (e.is_regular_file()) n += e.file_size();
  return n;
}

struct Paper {
  std::string id, title, abstract;
};

struct Sqlite {
  sqlite3* db = nullptr;
  explicit Sqlite(const fs::path& p) {
    if (sqlite3_open(p.c_str(), &db) != SQLITE_OK) throw std::runtime_error("sqlite open: " + std::string(sqlite3_errmsg(db)));
  }
  ~Sqlite() { sqlite3_close(db); }
  void exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string m = err ? err : "?";
      sqlite3_free(err);
      throw std::runtime_error("sqlite: " + m + " in: " + sql);
    }
  }
  sqlite3_stmt* prepare(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK)
      throw std::runtime_error("sqlite prepare: " + std::string(sqlite3_errmsg(db)));
    return s;
  }
};

// The first sentence: up to the first ". " / "? " / "! " that is followed by a capital letter.
std::string first_sentence(const std::string& a) {
  for (std::size_t i = 20; i + 2 < a.size(); ++i)
    if ((a[i] == '.' || a[i] == '?' || a[i] == '!') && a[i + 1] == ' ' && a[i + 2] >= 'A' && a[i + 2] <= 'Z')
      return a.substr(0, i + 1);
  return a;
}

std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  std::string w;
  for (char c : s) {
    if (c == ' ') {
      if (!w.empty()) out.push_back(w), w.clear();
    } else {
      w += c;
    }
  }
  if (!w.empty()) out.push_back(w);
  return out;
}

std::string lower(std::string s) {
  for (auto& c : s) c = (c >= 'A' && c <= 'Z') ? char(c + 32) : c;
  return s;
}

// Title reworded: stop words out, one word out when 3+ remain, order shuffled.
std::string reword(const std::string& title, std::mt19937_64& rng) {
  std::vector<std::string> kept;
  for (auto& w : words(title)) {
    std::string bare;
    for (char c : w)
      if (std::isalnum(static_cast<unsigned char>(c)) || static_cast<unsigned char>(c) >= 0x80) bare += c;
    if (!bare.empty() && !mlrc::retrieval::is_stop_word(lower(bare))) kept.push_back(w);
  }
  if (kept.size() >= 3) kept.erase(kept.begin() + static_cast<std::ptrdiff_t>(rng() % kept.size()));
  std::shuffle(kept.begin(), kept.end(), rng);
  std::string out;
  for (auto& w : kept) out += (out.empty() ? "" : " ") + w;
  return out.empty() ? title : out;
}

// An FTS5 MATCH expression: each word quoted ("" escapes a quote), joined by OR. Words are split
// at ASCII non-alphanumerics like unicode61 does, lower-cased, stop words dropped, duplicates dropped.
// The query words every competitor gets: split at ASCII non-alphanumerics, lower-cased, stop words
// and duplicates dropped.
std::vector<std::string> query_terms(const std::string& text) {
  std::vector<std::string> terms;
  std::string w;
  auto flush = [&] {
    if (!w.empty() && !mlrc::retrieval::is_stop_word(w) && std::find(terms.begin(), terms.end(), w) == terms.end())
      terms.push_back(w);
    w.clear();
  };
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || u >= 0x80) w += char(std::tolower(u));
    else flush();
  }
  flush();
  return terms;
}

std::string fts_query(const std::string& text) {
  std::vector<std::string> terms = query_terms(text);
  std::string q;
  for (auto& t : terms) {
    std::string quoted = "\"";
    for (char c : t) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    q += (q.empty() ? "" : " OR ") + quoted + "\"";
  }
  return q;
}

struct Result {
  std::vector<double> ms;
  double mrr = 0;
  double recall = 0;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto i = static_cast<std::size_t>(p * double(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

template <class Search>
Result run(const std::vector<std::pair<std::string, std::string>>& queries, Search&& search) {
  Result r;
  for (auto& [target, text] : queries) {
    auto t = Clock::now();
    std::vector<std::string> got = search(text);
    r.ms.push_back(seconds_since(t) * 1000);
    for (std::size_t i = 0; i < got.size() && i < 10; ++i)
      if (got[i] == target) {
        r.mrr += 1.0 / double(i + 1);
        r.recall += 1;
        break;
      }
  }
  r.mrr /= double(queries.size());
  r.recall /= double(queries.size());
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  fs::path data = fs::path(MLRC_SOURCE_DIR) / ".." / "shared" / "data" / "papers";
  fs::path work_parent = fs::temp_directory_path();
  std::size_t nqueries = 1000;
  std::string fts_tokenizer = "unicode61";
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--data") data = next();
    else if (a == "--work") work_parent = next();
    else if (a == "--queries") nqueries = std::stoul(next());
    else if (a == "--fts-tokenizer") fts_tokenizer = next();
    else if (a == "--keep") keep = true;
    else {
      std::fprintf(stderr, "usage: mlrc_bench_retrieval [--data DIR] [--work DIR] [--queries N] [--fts-tokenizer T] [--keep]\n");
      return 2;
    }
  }
  std::vector<fs::path> files;
  for (auto& e : fs::directory_iterator(data))
    if (e.path().string().ends_with(".jsonl.gz")) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    std::fprintf(stderr, "no *.jsonl.gz files in %s\n", data.c_str());
    return 1;
  }
  std::string tmpl = (work_parent / "mlrc-bench-retrieval-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  fs::path work = tmpl;

  // Pass 0 (untimed): read everything once; keeps the papers for the queries and warms the cache.
  std::vector<Paper> papers;
  mlrc::retrieval::Warnings warnings;
  auto t0 = Clock::now();
  mlrc::retrieval::for_each_document(
      mlrc::Corpus::papers, files, [&](mlrc::retrieval::Document&& d) { papers.push_back({d.id, d.title, d.stored_text}); }, warnings);
  double read_s = seconds_since(t0);
  std::printf("corpus: %zu papers from %zu files (%llu warnings); read+parse alone: %.2f s\n", papers.size(), files.size(),
              (unsigned long long)warnings.count, read_s);

  // Our engine.
  t0 = Clock::now();
  double c0 = cpu_seconds();
  auto report = mlrc::IndexBuilder(work / "ours").build(mlrc::Corpus::papers, files);
  double ours_build = seconds_since(t0), ours_cpu = cpu_seconds() - c0;
  std::uint64_t ours_bytes = dir_bytes(work / "ours");
  t0 = Clock::now();
  mlrc::LocalRetriever ours(work / "ours");
  double ours_open_ms = seconds_since(t0) * 1000;

  // FTS5: an external-content table over title + abstract (the content table holds the records,
  // as our segments do), filled in one transaction, then optimized (merged into one b-tree, as
  // our single segment is).
  t0 = Clock::now();
  c0 = cpu_seconds();
  {
    Sqlite db(work / "fts5.db");
    db.exec("PRAGMA cache_size=-262144");
    db.exec("CREATE TABLE papers(rowid INTEGER PRIMARY KEY, id TEXT, title TEXT, abstract TEXT)");
    db.exec("CREATE VIRTUAL TABLE fts USING fts5(title, abstract, content='papers', content_rowid='rowid', tokenize='" +
            fts_tokenizer + "')");
    db.exec("BEGIN");
    auto* ins = db.prepare("INSERT INTO papers(rowid, id, title, abstract) VALUES(?1, ?2, ?3, ?4)");
    auto* ins_fts = db.prepare("INSERT INTO fts(rowid, title, abstract) VALUES(?1, ?2, ?3)");
    std::int64_t rowid = 0;
    mlrc::retrieval::Warnings w2;
    mlrc::retrieval::for_each_document(
        mlrc::Corpus::papers, files,
        [&](mlrc::retrieval::Document&& d) {
          ++rowid;
          sqlite3_bind_int64(ins, 1, rowid);
          sqlite3_bind_text(ins, 2, d.id.data(), int(d.id.size()), SQLITE_STATIC);
          sqlite3_bind_text(ins, 3, d.title.data(), int(d.title.size()), SQLITE_STATIC);
          sqlite3_bind_text(ins, 4, d.stored_text.data(), int(d.stored_text.size()), SQLITE_STATIC);
          if (sqlite3_step(ins) != SQLITE_DONE) throw std::runtime_error(sqlite3_errmsg(db.db));
          sqlite3_reset(ins);
          sqlite3_bind_int64(ins_fts, 1, rowid);
          sqlite3_bind_text(ins_fts, 2, d.title.data(), int(d.title.size()), SQLITE_STATIC);
          sqlite3_bind_text(ins_fts, 3, d.stored_text.data(), int(d.stored_text.size()), SQLITE_STATIC);
          if (sqlite3_step(ins_fts) != SQLITE_DONE) throw std::runtime_error(sqlite3_errmsg(db.db));
          sqlite3_reset(ins_fts);
        },
        w2);
    sqlite3_finalize(ins);
    sqlite3_finalize(ins_fts);
    db.exec("INSERT INTO fts(fts) VALUES('optimize')");
    db.exec("COMMIT");
  }
  double fts_build = seconds_since(t0), fts_cpu = cpu_seconds() - c0;
  std::uint64_t fts_bytes = dir_bytes(work / "fts5.db");

#ifdef MLRC_HAVE_XAPIAN
  t0 = Clock::now();
  c0 = cpu_seconds();
  {
    Xapian::WritableDatabase xdb((work / "xapian").string(), Xapian::DB_CREATE_OR_OVERWRITE);
    Xapian::TermGenerator tg;
    tg.set_stemmer(Xapian::Stem("english"));
    mlrc::retrieval::Warnings w3;
    mlrc::retrieval::for_each_document(
        mlrc::Corpus::papers, files,
        [&](mlrc::retrieval::Document&& d) {
          Xapian::Document doc;
          tg.set_document(doc);
          // No positions: neither query set needs phrases, and our index keeps none either.
          tg.index_text_without_positions(d.title, 3);
          tg.index_text_without_positions(d.stored_text, 1);
          doc.set_data(d.id);
          xdb.add_document(doc);
        },
        w3);
    xdb.commit();
  }
  double xap_build = seconds_since(t0), xap_cpu = cpu_seconds() - c0;
  std::uint64_t xap_bytes = dir_bytes(work / "xapian");
#endif

  // Queries.
  std::mt19937_64 rng(20240601);
  std::vector<std::size_t> order(papers.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<std::pair<std::string, std::string>> set_a, set_b, warm;
  for (std::size_t i = 0; i < nqueries && i < order.size(); ++i) {
    const auto& p = papers[order[i]];
    set_a.emplace_back(p.id, first_sentence(p.abstract));
    set_b.emplace_back(p.id, reword(p.title, rng));
  }
  for (std::size_t i = nqueries; i < nqueries + 100 && i < order.size(); ++i)
    warm.emplace_back(papers[order[i]].id, first_sentence(papers[order[i]].abstract));

  auto ours_search = [&](const std::string& text) {
    mlrc::Query q;
    q.text = text;
    q.top_k = 10;
    std::vector<std::string> ids;
    try {
      for (auto& h : ours.find(q)) ids.push_back(std::move(h.id));
    } catch (const mlrc::Error&) {  // a query of stop words only: a miss
    }
    return ids;
  };
  Sqlite db(work / "fts5.db");
  db.exec("PRAGMA cache_size=-262144");
  auto* sel = db.prepare("SELECT rowid FROM fts WHERE fts MATCH ?1 ORDER BY bm25(fts, 3.0, 1.0) LIMIT 10");
  std::size_t fts_errors = 0;
  auto fts_search = [&](const std::string& text) {
    std::vector<std::string> ids;
    auto m = fts_query(text);
    if (m.empty()) return ids;
    sqlite3_bind_text(sel, 1, m.data(), int(m.size()), SQLITE_TRANSIENT);
    int rc;
    while ((rc = sqlite3_step(sel)) == SQLITE_ROW) ids.push_back(papers[std::size_t(sqlite3_column_int64(sel, 0) - 1)].id);
    if (rc != SQLITE_DONE) ++fts_errors;
    sqlite3_reset(sel);
    return ids;
  };
  run(warm, ours_search);
  run(warm, fts_search);
  auto oa = run(set_a, ours_search), ob = run(set_b, ours_search);
  auto fa = run(set_a, fts_search), fb = run(set_b, fts_search);
  sqlite3_finalize(sel);
#ifdef MLRC_HAVE_XAPIAN
  Xapian::Database xdb((work / "xapian").string());
  Xapian::Enquire enquire(xdb);
  Xapian::Stem stem("english");
  auto xap_search = [&](const std::string& text) {
    // The same words as FTS5 gets (stop words out), stemmed as the index was (STEM_SOME: "Z" + stem).
    std::vector<Xapian::Query> terms;
    for (auto& w : query_terms(text)) terms.emplace_back("Z" + stem(w));
    std::vector<std::string> ids;
    if (terms.empty()) return ids;
    enquire.set_query(Xapian::Query(Xapian::Query::OP_OR, terms.begin(), terms.end()));
    auto mset = enquire.get_mset(0, 10);
    for (auto it = mset.begin(); it != mset.end(); ++it) ids.push_back(it.get_document().get_data());
    return ids;
  };
  run(warm, xap_search);
  auto xa = run(set_a, xap_search), xb = run(set_b, xap_search);
#endif

  std::printf("\n%zu known-item queries per set; A = first abstract sentence, B = reworded title\n", set_a.size());
  std::printf("FTS5 tokenizer: %s; FTS5 query errors: %zu; our index opened in %.2f ms\n\n", fts_tokenizer.c_str(),
              fts_errors, ours_open_ms);
  std::printf("| engine | build s (CPU s) | index MiB | A p50 ms | A p99 ms | B p50 ms | B p99 ms | A MRR@10 | A R@10 | B MRR@10 | B R@10 |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  auto row = [](const char* name, double build, double cpu, std::uint64_t bytes, const Result& a, const Result& b) {
    std::printf("| %s | %.1f (%.1f) | %.1f | %.3f | %.3f | %.3f | %.3f | %.4f | %.3f | %.4f | %.3f |\n", name, build, cpu,
                double(bytes) / (1 << 20), percentile(a.ms, 0.5), percentile(a.ms, 0.99), percentile(b.ms, 0.5),
                percentile(b.ms, 0.99), a.mrr, a.recall, b.mrr, b.recall);
  };
  row("mlrc local (BM25F)", ours_build, ours_cpu, ours_bytes, oa, ob);
  row("SQLite FTS5", fts_build, fts_cpu, fts_bytes, fa, fb);
#ifdef MLRC_HAVE_XAPIAN
  row(("Xapian " + std::string(Xapian::version_string()) + " (BM25)").c_str(), xap_build, xap_cpu, xap_bytes, xa, xb);
#else
  std::printf("| Xapian | not built (install libxapian-dev and reconfigure) | | | | | | | | | |\n");
#endif
  std::printf("\nspeed-up of p50: A %.1fx, B %.1fx; build %.2fx; %llu documents indexed\n",
              percentile(fa.ms, 0.5) / percentile(oa.ms, 0.5), percentile(fb.ms, 0.5) / percentile(ob.ms, 0.5),
              fts_build / ours_build, (unsigned long long)report.added);
  if (!keep) fs::remove_all(work);
  else std::printf("kept %s\n", work.c_str());
  return 0;
}
