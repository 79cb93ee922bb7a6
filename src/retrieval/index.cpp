// The local index: manifest, IndexBuilder (build/add with crash-safe commits) and LocalRetriever
// (BM25F over memory-mapped segments).
#include "retrieval/ingest.hpp"
#include "retrieval/segment.hpp"
#include "retrieval/tokenizer.hpp"

#include <mlrcopilot/retriever.hpp>

#include <boost/json.hpp>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace mlrc {
inline namespace v1 {

namespace fs = std::filesystem;
using namespace retrieval;

const char* corpus_name(Corpus c) noexcept {
  switch (c) {
    case Corpus::papers: return "papers";
    case Corpus::code: return "code";
    case Corpus::models: return "models";
    case Corpus::datasets: return "datasets";
  }
  return "?";
}

Corpus parse_corpus(std::string_view s) {
  if (s == "papers" || s == "paper") return Corpus::papers;
  if (s == "code") return Corpus::code;
  if (s == "models" || s == "model") return Corpus::models;
  if (s == "datasets" || s == "dataset") return Corpus::datasets;
  throw Error(errc::invalid_argument, "unknown corpus '" + std::string(s) + "' (papers, code, models, datasets)");
}

namespace {

constexpr const char* manifest_name = "manifest.json";
constexpr Corpus all_corpora[] = {Corpus::papers, Corpus::code, Corpus::models, Corpus::datasets};

struct SegmentRef {
  std::string file;
  std::uint64_t documents = 0, bytes = 0;
};

struct Manifest {
  std::uint32_t format_version = index_format_version;
  Corpus corpus = Corpus::papers;
  std::uint64_t generation = 0;
  double k1 = 1.2, b = 0.75;
  std::vector<FieldSpec> fields;
  std::vector<SegmentRef> segments;
};

std::string format_error(std::uint64_t v) {
  return "index built by format version " + std::to_string(v) + ", this library reads up to " +
         std::to_string(index_format_version);
}

Manifest read_manifest(const fs::path& dir) {
  auto path = dir / manifest_name;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(errc::not_found, "no index at " + dir.string() + " (" + path.string() + " is missing)");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  simdjson::dom::parser parser;
  simdjson::dom::object o;
  if (auto err = parser.parse(text).get(o))
    throw Error(errc::parse, path.string() + ": not a JSON object (" + simdjson::error_message(err) + ")");
  auto bad = [&](const std::string& field, const char* what) {
    return Error(errc::parse, path.string() + ": field \"" + field + "\" " + what);
  };
  Manifest m;
  std::uint64_t version = 0;
  if (o["format_version"].get(version)) throw bad("format_version", "must be a positive integer");
  if (version > index_format_version) throw Error(errc::unsupported, format_error(version) + " (" + path.string() + ")");
  m.format_version = static_cast<std::uint32_t>(version);
  std::string_view corpus;
  if (o["corpus"].get(corpus)) throw bad("corpus", "must be a string");
  try {
    m.corpus = parse_corpus(corpus);
  } catch (const Error&) {
    throw bad("corpus", "names no known corpus");
  }
  if (o["generation"].get(m.generation)) throw bad("generation", "must be an integer");
  if (o["k1"].get(m.k1) || o["b"].get(m.b)) throw bad("k1/b", "must be numbers");
  simdjson::dom::array fields, segs;
  if (o["fields"].get(fields) || fields.size() == 0 || fields.size() > max_fields) throw bad("fields", "must be an array of 1 to 4 fields");
  for (auto f : fields) {
    std::string_view name;
    double w = 0, b = m.b;
    if (f["name"].get(name) || f["weight"].get(w)) throw bad("fields", "needs name and weight in each entry");
    if (f["b"].error() != simdjson::NO_SUCH_FIELD && f["b"].get(b)) throw bad("fields", "has a \"b\" that is not a number");
    m.fields.push_back({std::string(name), w, b});
  }
  if (o["segments"].get(segs)) throw bad("segments", "must be an array");
  for (auto s : segs) {
    std::string_view file;
    SegmentRef r;
    if (s["file"].get(file) || s["documents"].get(r.documents) || s["bytes"].get(r.bytes)) throw bad("segments", "needs file, documents and bytes in each entry");
    if (file.empty() || file.find('/') != std::string_view::npos || file[0] == '.') throw bad("segments", "names a file outside the index folder");
    r.file = file;
    m.segments.push_back(r);
  }
  return m;
}

void write_manifest(const fs::path& dir, const Manifest& m) {
  boost::json::object o;
  o["format_version"] = m.format_version;
  o["corpus"] = corpus_name(m.corpus);
  o["generation"] = m.generation;
  o["k1"] = m.k1;
  o["b"] = m.b;
  boost::json::array fields, segs;
  for (auto& f : m.fields) fields.push_back({{"name", f.name}, {"weight", f.weight}, {"b", f.b}});
  for (auto& s : m.segments) segs.push_back({{"file", s.file}, {"documents", s.documents}, {"bytes", s.bytes}});
  o["fields"] = std::move(fields);
  o["segments"] = std::move(segs);
  write_file_atomically(dir / manifest_name, boost::json::serialize(o) + "\n");
}

// An exclusive writer lock on the folder (flock: released by the kernel if the process dies).
class WriterLock {
 public:
  explicit WriterLock(const fs::path& dir) {
    auto p = dir / "LOCK";
    fd_ = ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(errc::io, "cannot open " + p.string() + ": " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      throw Error(errc::io, "index " + dir.string() + " is being written by another process");
    }
  }
  ~WriterLock() { ::close(fd_); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  int fd_ = -1;
};

bool is_segment_name(const std::string& n) { return n.size() > 9 && n.rfind("seg-", 0) == 0 && n.size() >= 5 && n.substr(n.size() - 5) == ".mlrs"; }

std::uint64_t segment_number(const std::string& n) {
  try {
    return std::stoull(n.substr(4));  // "seg-000012.mlrs" and its ".tmp"
  } catch (...) {
    return 0;
  }
}

// An index folder opened for reading.
struct OpenIndex {
  fs::path dir;
  Manifest m;
  std::vector<std::unique_ptr<Segment>> segs;
  std::uint64_t docs = 0;
  std::array<float, max_fields> weight{}, b{}, avg{};
  static constexpr std::size_t lut_size = 1024;
  std::array<std::array<float, lut_size>, max_fields> inv_norm{};  // 1 / (1 - b + b·len/avg) for short fields

  float norm(std::size_t f, std::uint32_t len) const {
    if (len < lut_size) return inv_norm[f][len];
    return avg[f] > 0 ? 1.0f / (1.0f - b[f] + b[f] * float(len) / avg[f]) : 1.0f;
  }
};

std::unique_ptr<OpenIndex> open_index(const fs::path& dir) {
  // A writer may replace the manifest and delete old segments between our two reads: retry.
  for (int attempt = 0;; ++attempt) {
    auto ix = std::make_unique<OpenIndex>();
    ix->dir = dir;
    ix->m = read_manifest(dir);
    try {
      for (auto& s : ix->m.segments) ix->segs.push_back(std::make_unique<Segment>(dir / s.file));
    } catch (const Error& e) {
      if (e.code_enum() == errc::not_found && attempt < 3) continue;
      throw;
    }
    std::array<std::uint64_t, max_fields> sum{};
    for (auto& s : ix->segs) {
      if (s->header().nfields != ix->m.fields.size())
        throw Error(errc::parse, s->path().string() + " has " + std::to_string(s->header().nfields) +
                                     " fields, the manifest lists " + std::to_string(ix->m.fields.size()));
      ix->docs += s->docs();
      for (std::size_t f = 0; f < max_fields; ++f) sum[f] += s->header().field_length_sum[f];
    }
    for (std::size_t f = 0; f < ix->m.fields.size(); ++f) {
      ix->weight[f] = float(ix->m.fields[f].weight);
      ix->b[f] = float(ix->m.fields[f].b);
      ix->avg[f] = ix->docs ? float(double(sum[f]) / double(ix->docs)) : 0.0f;
      for (std::size_t len = 0; len < OpenIndex::lut_size; ++len)
        ix->inv_norm[f][len] = ix->avg[f] > 0 ? 1.0f / (1.0f - ix->b[f] + ix->b[f] * float(len) / ix->avg[f]) : 1.0f;
    }
    return ix;
  }
}

IndexStats stats_of(const OpenIndex& ix) {
  IndexStats st;
  st.corpus = ix.m.corpus;
  st.format_version = ix.m.format_version;
  st.generation = ix.m.generation;
  st.segments = ix.segs.size();
  std::error_code ec;
  st.bytes = fs::file_size(ix.dir / manifest_name, ec);
  for (auto& s : ix.segs) {
    st.documents += s->docs();
    st.terms += s->header().nterms;
    st.postings += s->header().npostings;
    st.bytes += s->header().file_bytes;
  }
  for (auto& f : ix.m.fields) st.field_weights.emplace_back(f.name, f.weight);
  return st;
}

// ---------------------------------------------------------------------------------------------
// Writing

// A bounded queue of document batches from the reading thread to the indexing thread.
class Pipe {
 public:
  struct Batch {
    std::vector<Document> docs;
    std::string file;
    std::uint64_t warnings = 0;
  };
  struct Stopped {};  // thrown in the reader when the indexer gave up

  void push(Batch b) {
    std::unique_lock lk(mu_);
    not_full_.wait(lk, [&] { return q_.size() < 8 || stop_; });
    if (stop_) throw Stopped{};
    q_.push_back(std::move(b));
    not_empty_.notify_one();
  }
  /** The next batch; nullopt at the end; rethrows the reader's exception. */
  std::optional<Batch> pop() {
    std::unique_lock lk(mu_);
    not_empty_.wait(lk, [&] { return !q_.empty() || done_; });
    if (q_.empty()) {
      if (error_) std::rethrow_exception(error_);
      return std::nullopt;
    }
    Batch b = std::move(q_.front());
    q_.pop_front();
    not_full_.notify_one();
    return b;
  }
  void close(std::exception_ptr error) {
    std::lock_guard lk(mu_);
    done_ = true;
    error_ = error;
    not_empty_.notify_all();
  }
  void stop() {
    std::lock_guard lk(mu_);
    stop_ = true;
    not_full_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<Batch> q_;
  bool done_ = false, stop_ = false;
  std::exception_ptr error_;
};

struct Ingest {
  Ingest(fs::path d, IndexOptions o, IndexBuilder::ProgressFn p) : dir(std::move(d)), options(o), progress(std::move(p)) {}
  fs::path dir;
  IndexOptions options;
  Manifest m;
  std::vector<std::unique_ptr<Segment>> existing;  // for duplicate checks on add
  std::uint64_t next_number = 1;
  IndexBuilder::ProgressFn progress;
  IngestReport report;
  Warnings warnings;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  std::string file;
  std::uint64_t reading_warnings = 0;  // as last reported by the reading thread
  // The segment being written: "seg-N.mlrs.tmp" until it is complete and synced.
  std::optional<SegmentWriter> writer;
  std::string writer_name;

  void tell(bool done) {
    if (!progress) return;
    IngestProgress p;
    p.records = report.added;
    p.warnings = options.parallel_read ? reading_warnings : warnings.count;
    p.file = file;
    p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    p.done = done;
    progress(p);
  }

  SegmentWriter& current() {
    if (!writer) {
      char name[32];
      std::snprintf(name, sizeof name, "seg-%06llu.mlrs", static_cast<unsigned long long>(next_number++));
      writer_name = name;
      std::error_code ec;
      fs::remove(dir / (writer_name + ".tmp"), ec);
      writer.emplace(m.fields.size(), dir / (writer_name + ".tmp"));
    }
    return *writer;
  }

  void flush() {
    if (!writer) return;
    writer->finish();
    auto docs = writer->docs();
    auto tmp = writer->path();
    if (::rename(tmp.c_str(), (dir / writer_name).c_str()) != 0)
      throw Error(errc::io, "cannot rename " + tmp.string() + ": " + std::strerror(errno));
    writer.reset();
    m.segments.push_back({writer_name, docs, fs::file_size(dir / writer_name)});
  }

  void run(Corpus corpus, const std::vector<fs::path>& inputs) {
    if (inputs.empty()) throw Error(errc::invalid_argument, "no input files given");
    std::unordered_set<std::string> seen;
    std::uint64_t since_tell = 0;
    auto index = [&](Document& d) {
      if (!seen.insert(d.id).second ||
          std::any_of(existing.begin(), existing.end(), [&](auto& s) { return s->find_id(d.id).has_value(); })) {
        ++report.duplicates;
        return;
      }
      current().add(d);
      ++report.added;
      if (writer->docs() >= options.segment_docs) flush();
      if (++since_tell == 1000) since_tell = 0, tell(false);
    };
    auto on_file = [&](const fs::path& f) {
      file = f.string();
      tell(false);
    };
    if (!options.parallel_read) {
      for_each_document(corpus, inputs, [&](Document&& d) { index(d); }, warnings, on_file);
    } else {
      // Reading (gunzip, JSON) runs on a second thread while this one indexes, in batches.
      Pipe pipe;
      std::thread reader([&] {
        std::exception_ptr error;
        try {
          Pipe::Batch b;
          auto ship = [&] {
            b.warnings = warnings.count;
            auto f = b.file;
            pipe.push(std::move(b));
            b = {};
            b.file = f;
          };
          for_each_document(
              corpus, inputs,
              [&](Document&& d) {
                b.docs.push_back(std::move(d));
                if (b.docs.size() == 256) ship();
              },
              warnings,
              [&](const fs::path& f) {
                if (!b.docs.empty()) ship();
                b.file = f.string();
              });
          ship();
        } catch (const Pipe::Stopped&) {
        } catch (...) {
          error = std::current_exception();
        }
        pipe.close(error);
      });
      try {
        while (auto b = pipe.pop()) {
          if (b->file != file) on_file(b->file);
          reading_warnings = b->warnings;
          for (auto& d : b->docs) index(d);
        }
      } catch (...) {
        pipe.stop();
        reader.join();
        throw;
      }
      reader.join();
    }
    flush();
    sync_directory(dir);  // the segment renames are durable before the manifest names them
    ++m.generation;
    write_manifest(dir, m);
    report.warning_count = warnings.count;
    report.warnings = std::move(warnings.messages);
    report.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    tell(true);
  }

  // Removes temp files of crashed writers and segments the manifest no longer names.
  void collect_garbage() {
    std::unordered_set<std::string> live;
    for (auto& s : m.segments) live.insert(s.file);
    std::error_code ec;
    for (auto& e : fs::directory_iterator(dir, ec)) {
      auto n = e.path().filename().string();
      bool tmp = n.find(".tmp") != std::string::npos;
      if (tmp || (is_segment_name(n) && !live.count(n))) fs::remove(e.path(), ec);
    }
  }

  void number_after_existing() {
    std::error_code ec;
    for (auto& e : fs::directory_iterator(dir, ec)) {
      auto n = e.path().filename().string();
      if (n.rfind("seg-", 0) == 0) next_number = std::max(next_number, segment_number(n) + 1);
    }
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------------

IndexBuilder::IndexBuilder(fs::path index_dir, IndexOptions options) : dir_(std::move(index_dir)), options_(options) {
  if (options_.segment_docs == 0) options_.segment_docs = 1;
}

IngestReport IndexBuilder::build(Corpus corpus, const std::vector<fs::path>& inputs, ProgressFn progress) {
  if (inputs.empty()) throw Error(errc::invalid_argument, "index build: no input files given");
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw Error(errc::io, "cannot create index folder " + dir_.string() + ": " + ec.message());
  WriterLock lock(dir_);
  Ingest in(dir_, options_, std::move(progress));
  try {
    in.m.generation = read_manifest(dir_).generation;  // keep counting if we replace an index
  } catch (const Error&) {
  }
  in.m.corpus = corpus;
  in.m.k1 = options_.k1;
  in.m.fields = default_fields(corpus);
  if (options_.b)
    for (auto& f : in.m.fields) f.b = *options_.b;
  in.m.b = options_.b.value_or(0.75);
  in.number_after_existing();
  in.run(corpus, inputs);
  in.collect_garbage();
  return std::move(in.report);
}

IngestReport IndexBuilder::add(const std::vector<fs::path>& inputs, ProgressFn progress) {
  if (inputs.empty()) throw Error(errc::invalid_argument, "index add: no input files given");
  if (!fs::exists(dir_ / manifest_name)) throw Error(errc::not_found, "no index at " + dir_.string() + " (build one first)");
  WriterLock lock(dir_);
  auto ix = open_index(dir_);
  Ingest in(dir_, options_, std::move(progress));
  in.m = ix->m;
  in.existing = std::move(ix->segs);
  in.number_after_existing();
  in.collect_garbage();
  in.run(in.m.corpus, inputs);
  return std::move(in.report);
}

IndexStats IndexBuilder::stats() const { return stats_of(*open_index(dir_)); }

// ---------------------------------------------------------------------------------------------
// Searching

struct LocalRetriever::Impl {
  fs::path root;
  std::map<Corpus, std::unique_ptr<OpenIndex>> indexes;

  void load() {
    std::map<Corpus, std::unique_ptr<OpenIndex>> found;
    if (fs::exists(root / manifest_name)) {
      auto ix = open_index(root);
      found[ix->m.corpus] = std::move(ix);
    } else {
      for (auto c : all_corpora)
        if (fs::exists(root / corpus_name(c) / manifest_name)) found[c] = open_index(root / corpus_name(c));
    }
    if (found.empty()) throw Error(errc::not_found, "no index at " + root.string() + " (no manifest.json there or in papers/, code/, models/, datasets/)");
    indexes = std::move(found);
  }
};

LocalRetriever::LocalRetriever(const fs::path& path) : impl_(std::make_unique<Impl>()) {
  impl_->root = path;
  impl_->load();
}
LocalRetriever::~LocalRetriever() = default;

void LocalRetriever::refresh() { impl_->load(); }

std::vector<Corpus> LocalRetriever::corpora() const {
  std::vector<Corpus> out;
  for (auto& [c, ix] : impl_->indexes) out.push_back(c);
  return out;
}

IndexStats LocalRetriever::stats(Corpus c) const {
  auto it = impl_->indexes.find(c);
  if (it == impl_->indexes.end()) throw Error(errc::not_found, std::string("no local index for ") + corpus_name(c));
  return stats_of(*it->second);
}

boost::asio::awaitable<std::vector<Hit>> LocalRetriever::search(Query q) { co_return find(q); }

namespace {

bool passes(const Query& q, const Segment& s, std::uint32_t d) {
  int year = s.doc(d).year;
  if ((q.year_min && (year == 0 || year < *q.year_min)) || (q.year_max && (year == 0 || year > *q.year_max))) return false;
  if (q.venue_or_category.empty() && q.tag.empty() && q.license.empty()) return true;
  auto st = s.stored(d);
  if (!q.venue_or_category.empty() && !icontains(st.venue, q.venue_or_category)) return false;
  if (!q.license.empty() && !iequals(st.license, q.license)) return false;
  if (!q.tag.empty()) {
    // "text-classification" matches the tag itself or a "key:text-classification" tag.
    bool found = false;
    for (std::size_t at = 0; !found && at <= st.tags.size();) {
      auto nl = st.tags.find('\n', at);
      auto t = st.tags.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at);
      found = tag_matches(t, q.tag);
      if (nl == std::string_view::npos) break;
      at = nl + 1;
    }
    if (!found) return false;
  }
  return true;
}

struct Candidate {
  float score;
  std::uint32_t seg, doc;
  std::uint8_t mask;
};
// Higher score first; ties by index order, so results are deterministic.
bool better(const Candidate& a, const Candidate& b) {
  if (a.score != b.score) return a.score > b.score;
  return a.seg != b.seg ? a.seg < b.seg : a.doc < b.doc;
}

struct Scratch {
  std::vector<float> score, tf;
  std::vector<std::uint32_t> group;
  std::vector<std::uint8_t> mask;
  std::vector<std::uint32_t> touched;
};

}  // namespace

std::vector<Hit> LocalRetriever::find(const Query& q) const {
  constexpr float variant_weight = 0.5f;
  if (q.text.find_first_not_of(" \t\r\n") == std::string::npos)
    throw Error(errc::invalid_argument, "empty query: give some words to search for");
  auto it = impl_->indexes.find(q.corpus);
  if (it == impl_->indexes.end())
    throw Error(errc::not_found, std::string("no local index for ") + corpus_name(q.corpus) + " under " + impl_->root.string());
  const OpenIndex& ix = *it->second;

  thread_local Tokenizer tokenizer;
  std::vector<std::string_view> terms = tokenizer(q.text);
  if (terms.empty())
    throw Error(errc::invalid_argument, "query \"" + q.text + "\" has no searchable words (only stop words or punctuation)");
  // One group per distinct query word: the word itself and its singular/plural variants. A
  // group scores like one BM25 term whose frequency is tf(word) + variant_weight·tf(variants), so
  // "network" still finds "networks" while an exact match ranks first and nothing counts twice.
  struct Member {
    std::string term;
    float tf_weight;
    std::vector<Segment::PostingList> lists;  // per segment
    std::uint64_t df = 0;
  };
  struct Group {
    float qtf = 0;
    std::vector<Member> members;
    float idf = 0;
  };
  std::vector<Group> groups;
  for (auto t : terms) {
    auto g = std::find_if(groups.begin(), groups.end(), [&](auto& x) { return x.members[0].term == t; });
    if (g != groups.end()) {
      g->qtf += 1;
      continue;
    }
    Group ng;
    ng.qtf = 1;
    ng.members.push_back({std::string(t), 1.0f, {}});
    for (auto& v : word_variants(t)) ng.members.push_back({std::move(v), variant_weight, {}});
    groups.push_back(std::move(ng));
  }
  // A variant that is itself a query word belongs to that word's group only.
  for (auto& g : groups)
    std::erase_if(g.members, [&](const Member& m) {
      return &m != &g.members[0] &&
             std::any_of(groups.begin(), groups.end(), [&](const Group& o) { return o.members[0].term == m.term; });
    });
  if (q.top_k == 0 || ix.docs == 0) return {};

  // Look every term up in every segment; document frequencies add up across segments. A group's
  // idf is its word's (or, when the word itself does not occur, its most frequent variant's).
  const std::size_t nseg = ix.segs.size();
  for (auto& g : groups) {
    for (auto& m : g.members)
      for (auto& seg : ix.segs) m.df += m.lists.emplace_back(seg->find(m.term)).df;
    std::uint64_t df = g.members[0].df;
    if (df == 0)
      for (auto& m : g.members) df = std::max(df, m.df);
    g.idf = df ? float(std::log(1.0 + (double(ix.docs) - double(df) + 0.5) / (double(df) + 0.5))) : 0.0f;
  }

  const float k1 = float(ix.m.k1);
  const std::size_t nfields = ix.m.fields.size();
  thread_local Scratch sc;
  // The scratch arrays must be all zero between queries, also after an exception (damaged file).
  struct Clean {
    Scratch& sc;
    ~Clean() {
      for (auto d : sc.touched) sc.score[d] = 0, sc.mask[d] = 0;
      for (auto d : sc.group) sc.tf[d] = 0;
      sc.touched.clear();
      sc.group.clear();
    }
  } clean{sc};
  std::vector<Candidate> heap;  // the worst of the best top_k on top
  for (std::size_t s = 0; s < nseg; ++s) {
    const Segment& seg = *ix.segs[s];
    if (sc.score.size() < seg.docs())
      sc.score.resize(seg.docs(), 0.0f), sc.tf.resize(seg.docs(), 0.0f), sc.mask.resize(seg.docs(), 0);
    // Calls sink(doc, field mask, BM25F pseudo-frequency) for each posting of `pl`.
    auto each = [&](const Segment::PostingList& pl, auto&& sink) {
      const std::uint8_t *p = pl.begin, *end = pl.end;
      std::uint32_t doc = 0;
      bool first = true;
      while (p < end) {
        std::uint64_t v;
        if (*p < 0x80) v = *p++;
        else if (!(p = get_varint(p, end, v))) throw Error(errc::parse, seg.path().string() + " is damaged: bad postings");
        doc = first ? std::uint32_t(v >> 4) : doc + std::uint32_t(v >> 4);
        first = false;
        if (doc >= seg.docs()) throw Error(errc::parse, seg.path().string() + " is damaged: document number out of range");
        const auto m = std::uint8_t(v & 15);
        const DocEntry& de = seg.doc(doc);
        float tf = 0;
        for (std::size_t f = 0; f < nfields; ++f) {
          if (!(m & (1u << f))) continue;
          std::uint64_t n;
          if (p < end && *p < 0x80) n = *p++;
          else if (!(p = get_varint(p, end, n))) throw Error(errc::parse, seg.path().string() + " is damaged: bad postings");
          tf += ix.weight[f] * float(n) * ix.norm(f, de.length[f]);
        }
        sink(doc, m, tf);
      }
    };
    for (auto& g : groups) {
      const float w = g.idf * g.qtf * (k1 + 1);
      std::size_t with_postings = 0;
      for (auto& m : g.members) with_postings += m.lists[s].df > 0;
      if (with_postings == 0) continue;
      if (with_postings == 1) {  // the common case: saturate directly
        for (auto& m : g.members) {
          if (!m.lists[s].df) continue;
          each(m.lists[s], [&](std::uint32_t doc, std::uint8_t mask, float tf) {
            tf *= m.tf_weight;
            if (!sc.mask[doc]) sc.touched.push_back(doc);
            sc.mask[doc] |= mask;
            sc.score[doc] += w * tf / (k1 + tf);
          });
        }
        continue;
      }
      sc.group.clear();
      for (auto& m : g.members) {
        if (!m.lists[s].df) continue;
        each(m.lists[s], [&](std::uint32_t doc, std::uint8_t mask, float tf) {
          if (!sc.mask[doc]) sc.touched.push_back(doc);
          if (sc.tf[doc] == 0) sc.group.push_back(doc);
          sc.mask[doc] |= mask;
          sc.tf[doc] += m.tf_weight * tf;
        });
      }
      for (auto doc : sc.group) {
        float tf = sc.tf[doc];
        sc.tf[doc] = 0;
        sc.score[doc] += w * tf / (k1 + tf);
      }
      sc.group.clear();
    }
    for (auto d : sc.touched) {
      Candidate c{sc.score[d] + seg.doc(d).prior, std::uint32_t(s), d, sc.mask[d]};
      sc.score[d] = 0;
      sc.mask[d] = 0;
      if (heap.size() == q.top_k && !better(c, heap.front())) continue;
      if (!passes(q, seg, d)) continue;
      heap.push_back(c);
      std::push_heap(heap.begin(), heap.end(), better);
      if (heap.size() > q.top_k) std::pop_heap(heap.begin(), heap.end(), better), heap.pop_back();
    }
    sc.touched.clear();
  }
  std::sort_heap(heap.begin(), heap.end(), better);

  std::vector<Hit> hits;
  hits.reserve(heap.size());
  const char* text_key = stored_text_key(ix.m.corpus);
  for (auto& c : heap) {
    auto st = ix.segs[c.seg]->stored(c.doc);
    Hit h;
    h.id = st.id;
    h.score = c.score;
    h.title = st.title;
    h.snippet = snippet_of(st.text);
    for (auto& [k, v] : st.fields) h.fields.emplace(k, v);
    if (!st.text.empty()) h.fields.emplace(text_key, st.text);
    for (std::size_t f = 0; f < nfields; ++f)
      if (c.mask & (1u << f)) h.matched_fields.push_back(ix.m.fields[f].name);
    hits.push_back(std::move(h));
  }
  return hits;
}

std::unique_ptr<LocalRetriever> open_local_retriever(const fs::path& path) { return std::make_unique<LocalRetriever>(path); }

}  // namespace v1
}  // namespace mlrc
