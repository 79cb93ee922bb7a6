#include "retrieval/segment.hpp"

#include <mlrcopilot/retriever.hpp>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <numeric>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mlrc {
inline namespace v1 {
namespace retrieval {

static_assert(std::endian::native == std::endian::little, "the index format is little-endian; add byte swapping to port it");

namespace {

std::string sys_error(const std::string& what, const std::filesystem::path& p) {
  return what + " " + p.string() + ": " + std::strerror(errno);
}

constexpr std::uint64_t align8(std::uint64_t v) { return (v + 7) & ~std::uint64_t(7); }

void put_string(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s);
}

}  // namespace

OutFile::OutFile(const std::filesystem::path& p) : path_(p) {
  fd_ = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(errc::io, sys_error("cannot create", p));
}

OutFile::~OutFile() {
  if (fd_ >= 0) ::close(fd_);
}

void OutFile::write_at(std::uint64_t offset, const void* data, std::size_t n) {
  auto p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::pwrite(fd_, p, n, static_cast<off_t>(offset));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) throw Error(errc::io, sys_error("cannot write", path_));
    p += w, offset += static_cast<std::uint64_t>(w), n -= static_cast<std::size_t>(w);
  }
}

void OutFile::write(const void* data, std::size_t n) {
  write_at(size_, data, n);
  size_ += n;
}

void OutFile::pad_to(std::uint64_t offset) {
  static const char zeros[8] = {};
  while (size_ < offset) write(zeros, std::min<std::uint64_t>(8, offset - size_));
}

void OutFile::start_writeback() {
#ifdef __linux__
  ::sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE);  // a hint: errors show up at fsync
#endif
}

void OutFile::sync_and_close() {
  if (::fsync(fd_) != 0) throw Error(errc::io, sys_error("cannot fsync", path_));
  int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) throw Error(errc::io, sys_error("cannot close", path_));
}

void sync_directory(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw Error(errc::io, sys_error("cannot open folder", dir));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw Error(errc::io, sys_error("cannot fsync folder", dir));
}

void write_file_atomically(const std::filesystem::path& path, std::string_view data) {
  auto tmp = path;
  tmp += ".tmp-" + std::to_string(::getpid());
  std::error_code ec;
  std::filesystem::remove(tmp, ec);
  try {
    OutFile f(tmp);
    f.write(data.data(), data.size());
    f.sync_and_close();
  } catch (...) {
    std::filesystem::remove(tmp, ec);
    throw;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string msg = sys_error("cannot rename to", path);
    std::filesystem::remove(tmp, ec);
    throw Error(errc::io, msg);
  }
  sync_directory(path.parent_path().empty() ? "." : path.parent_path());
}

// ---------------------------------------------------------------------------------------------
// Writer

namespace {
// A fast hash for short strings (8 bytes at a time, then a final mix).
std::uint64_t hash_term(std::string_view s) {
  std::uint64_t h = 0x9E3779B97F4A7C15ull ^ s.size();
  const char* p = s.data();
  std::size_t n = s.size();
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    h = (h ^ v) * 0xFF51AFD7ED558CCDull;
    h ^= h >> 32;
  }
  std::uint64_t v = 0;
  std::memcpy(&v, p, n);
  h = (h ^ v) * 0xC4CEB9FE1A85EC53ull;
  return h ^ (h >> 29);
}
// Equality for short strings without a call to memcmp.
bool equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  std::size_t n = a.size(), i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t x, y;
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    if (x != y) return false;
  }
  for (; i < n; ++i)
    if (a[i] != b[i]) return false;
  return true;
}
}  // namespace

std::uint32_t SegmentWriter::Terms::intern(std::string_view t, bool& added) {
  auto h = hash_term(t);
  std::uint64_t prefix = 0;
  std::memcpy(&prefix, t.data(), std::min<std::size_t>(t.size(), 8));
  const auto tag = (static_cast<std::uint32_t>(h >> 32) & 0xFFFFFF00u) | static_cast<std::uint32_t>(std::min<std::size_t>(t.size(), 255));
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = h & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.id1 == 0) {
      added = true;
      auto id = static_cast<std::uint32_t>(size());
      arena_.append(t);
      start_.push_back(static_cast<std::uint32_t>(arena_.size()));
      slots_[i] = {prefix, tag, id + 1};
      if (size() * 2 > slots_.size()) grow();
      return id;
    }
    if (s.tag == tag && s.prefix == prefix && (t.size() <= 8 || equal(name(s.id1 - 1), t))) {
      added = false;
      return s.id1 - 1;
    }
  }
}

void SegmentWriter::Terms::grow() {
  std::vector<Slot> bigger(slots_.size() * 2);
  const std::size_t mask = bigger.size() - 1;
  for (const Slot& s : slots_) {
    if (!s.id1) continue;
    std::size_t i = hash_term(name(s.id1 - 1)) & mask;
    while (bigger[i].id1) i = (i + 1) & mask;
    bigger[i] = s;
  }
  slots_.swap(bigger);
}

namespace {
std::size_t checked_fields(std::size_t n) {
  if (n == 0 || n > max_fields) throw Error(errc::internal, "segment: bad field count");
  return n;
}
}  // namespace

SegmentWriter::SegmentWriter(std::size_t nfields, std::filesystem::path path)
    : nfields_(checked_fields(nfields)), path_(std::move(path)), out_(path_) {
  try {
    out_.pad_to(sizeof(SegmentHeader));  // the header is written last
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
    throw;
  }
}

SegmentWriter::~SegmentWriter() {
  if (finished_) return;
  std::error_code ec;
  std::filesystem::remove(path_, ec);
}

void SegmentWriter::flush_doc_data(bool force) {
  if (!force && doc_data_.size() < (1u << 20)) return;
  out_.write(doc_data_.data(), doc_data_.size());
  unsynced_ += doc_data_.size();
  doc_data_.clear();
  if (unsynced_ >= (64u << 20)) out_.start_writeback(), unsynced_ = 0;
}

bool SegmentWriter::add(const Document& d) {
  if (ids_.find(d.id) != ids_.end()) return false;
  auto doc = static_cast<std::uint32_t>(docs_.size());
  ids_.emplace(d.id, doc);

  DocEntry e{};
  e.data_offset = doc_bytes_;
  const auto data_before = doc_data_.size();
  e.year = d.year;
  e.prior = d.prior;
  doc_terms_.clear();
  for (std::size_t f = 0; f < nfields_; ++f) {
    const auto& terms = tokenizer_(int(f) == d.stored_field ? d.stored_text : d.text[f]);
    field_length_sum_[f] += terms.size();
    e.length[f] = static_cast<std::uint16_t>(std::min<std::size_t>(terms.size(), 65535));
    for (auto t : terms) {
      bool added = false;
      std::uint32_t id = terms_.intern(t, added);
      if (added) {
        postings_.emplace_back();
        slot_.push_back(0);
      }
      if (slot_[id] == 0) {
        doc_terms_.push_back({id, {}});
        slot_[id] = static_cast<std::uint32_t>(doc_terms_.size());
      }
      ++doc_terms_[slot_[id] - 1].second[f];
    }
  }
  for (auto& [id, tf] : doc_terms_) {
    slot_[id] = 0;
    auto& p = postings_[id];
    std::uint64_t mask = 0;
    for (std::size_t f = 0; f < nfields_; ++f)
      if (tf[f]) mask |= 1u << f;
    put_varint(p.bytes, (std::uint64_t(p.df == 0 ? doc : doc - p.last_doc) << 4) | mask);
    for (std::size_t f = 0; f < nfields_; ++f)
      if (tf[f]) put_varint(p.bytes, tf[f]);
    p.last_doc = doc;
    ++p.df;
    ++npostings_;
  }

  put_string(doc_data_, d.id);
  put_string(doc_data_, d.title);
  put_string(doc_data_, d.stored_text);
  put_string(doc_data_, d.venue);
  put_string(doc_data_, d.license);
  std::string tags;
  for (auto& t : d.tags) {
    if (t.empty() || t.find('\n') != std::string::npos) continue;
    if (!tags.empty()) tags += '\n';
    tags += t;
  }
  put_string(doc_data_, tags);
  put_varint(doc_data_, d.fields.size());
  for (auto& [k, v] : d.fields) put_string(doc_data_, k), put_string(doc_data_, v);
  doc_bytes_ += doc_data_.size() - data_before;
  docs_.push_back(e);
  flush_doc_data(false);
  return true;
}

void SegmentWriter::finish() {
  flush_doc_data(true);
  std::vector<std::uint32_t> order(postings_.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](auto a, auto b) { return terms_.name(a) < terms_.name(b); });
  std::vector<std::uint32_t> by_id(docs_.size());
  {
    std::vector<std::pair<std::string_view, std::uint32_t>> ids(ids_.begin(), ids_.end());
    std::sort(ids.begin(), ids.end());
    for (std::size_t i = 0; i < ids.size(); ++i) by_id[i] = ids[i].second;
  }

  SegmentHeader h{};
  std::memcpy(h.magic, segment_magic, sizeof h.magic);
  h.format_version = index_format_version;
  h.header_bytes = sizeof(SegmentHeader);
  h.nfields = static_cast<std::uint32_t>(nfields_);
  h.ndocs = static_cast<std::uint32_t>(docs_.size());
  h.nterms = postings_.size();
  h.npostings = npostings_;
  for (std::size_t f = 0; f < max_fields; ++f) h.field_length_sum[f] = field_length_sum_[f];
  h.doc_data = {sizeof(SegmentHeader), doc_bytes_};

  // Each section starts 8-byte aligned right after the previous one.
  std::string buf;
  auto section = [&](Section& s, auto&& fill) {
    out_.pad_to(align8(out_.size()));
    s.offset = out_.size();
    fill();
    if (!buf.empty()) out_.write(buf.data(), buf.size()), buf.clear();
    s.bytes = out_.size() - s.offset;
  };
  auto put = [&](std::string_view bytes) {
    buf += bytes;
    if (buf.size() > (1u << 20)) out_.write(buf.data(), buf.size()), buf.clear();
  };
  auto put_raw = [&](const auto& value) { put({reinterpret_cast<const char*>(&value), sizeof value}); };

  section(h.terms, [&] {
    std::uint64_t po = 0, to = 0;
    for (auto i : order) {
      put_raw(TermEntry{po, static_cast<std::uint32_t>(to), postings_[i].df});
      po += postings_[i].bytes.size();
      to += terms_.name(i).size();
    }
    if (to > UINT32_MAX) throw Error(errc::internal, "segment: term dictionary over 4 GiB; lower segment_docs");
    put_raw(TermEntry{po, static_cast<std::uint32_t>(to), 0});
  });
  section(h.term_text, [&] {
    for (auto i : order) put(terms_.name(i));
  });
  section(h.postings, [&] {
    for (auto i : order) put(postings_[i].bytes);
  });
  section(h.docs, [&] {
    for (auto& e : docs_) put_raw(e);
    DocEntry sentinel{};
    sentinel.data_offset = doc_bytes_;
    put_raw(sentinel);
  });
  section(h.ids, [&] {
    for (auto d : by_id) put_raw(d);
  });
  h.file_bytes = out_.size();
  out_.write_at(0, &h, sizeof h);
  out_.sync_and_close();
  finished_ = true;
}

// ---------------------------------------------------------------------------------------------
// Reader

void Segment::damaged(const std::string& what) const {
  throw Error(errc::parse, "index segment " + path_.string() + " is damaged: " + what);
}

Segment::Segment(const std::filesystem::path& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(errno == ENOENT ? errc::not_found : errc::io, sys_error("cannot open index segment", path));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw Error(errc::io, sys_error("cannot stat", path));
  }
  size_ = static_cast<std::size_t>(st.st_size);
  if (size_ < sizeof(SegmentHeader)) {
    ::close(fd);
    damaged("shorter than its header (" + std::to_string(size_) + " bytes)");
  }
  void* m = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (m == MAP_FAILED) throw Error(errc::io, sys_error("cannot map", path));
  base_ = static_cast<const std::uint8_t*>(m);
  try {
    std::memcpy(&header_, base_, sizeof header_);
    if (std::memcmp(header_.magic, segment_magic, sizeof segment_magic) != 0) damaged("not an mlrcopilot index segment");
    if (header_.format_version > index_format_version)
      throw Error(errc::unsupported, "index built by format version " + std::to_string(header_.format_version) +
                                         ", this library reads up to " + std::to_string(index_format_version) + " (" +
                                         path.string() + ")");
    if (header_.file_bytes != size_)
      damaged("header says " + std::to_string(header_.file_bytes) + " bytes, file has " + std::to_string(size_));
    if (header_.nfields == 0 || header_.nfields > max_fields) damaged("bad field count");
    auto fits = [&](const Section& s, std::uint64_t expect = UINT64_MAX) {
      return s.offset % 8 == 0 && s.offset >= sizeof(SegmentHeader) && s.offset <= size_ && s.bytes <= size_ - s.offset &&
             (expect == UINT64_MAX || s.bytes == expect);
    };
    if (!fits(header_.terms, (header_.nterms + 1) * sizeof(TermEntry)) || !fits(header_.term_text) ||
        !fits(header_.postings) || !fits(header_.docs, (std::uint64_t(header_.ndocs) + 1) * sizeof(DocEntry)) ||
        !fits(header_.doc_data) || !fits(header_.ids, std::uint64_t(header_.ndocs) * 4))
      damaged("a section lies outside the file");
    terms_ = reinterpret_cast<const TermEntry*>(base_ + header_.terms.offset);
    term_text_ = reinterpret_cast<const char*>(base_ + header_.term_text.offset);
    postings_ = base_ + header_.postings.offset;
    docs_ = reinterpret_cast<const DocEntry*>(base_ + header_.docs.offset);
    doc_data_ = base_ + header_.doc_data.offset;
    ids_ = reinterpret_cast<const std::uint32_t*>(base_ + header_.ids.offset);
    // The sentinels bound every offset read later.
    if (terms_[header_.nterms].postings_offset != header_.postings.bytes ||
        terms_[header_.nterms].text_offset != header_.term_text.bytes ||
        docs_[header_.ndocs].data_offset != header_.doc_data.bytes)
      damaged("section ends do not match");
  } catch (...) {
    ::munmap(const_cast<std::uint8_t*>(base_), size_);
    throw;
  }
}

Segment::~Segment() { ::munmap(const_cast<std::uint8_t*>(base_), size_); }

std::string_view Segment::term(std::uint64_t i) const {
  auto a = terms_[i].text_offset, b = terms_[i + 1].text_offset;
  if (a > b || b > header_.term_text.bytes) damaged("bad term offsets");
  return {term_text_ + a, b - a};
}

Segment::PostingList Segment::find(std::string_view t) const {
  std::uint64_t lo = 0, hi = header_.nterms;
  while (lo < hi) {
    auto mid = lo + (hi - lo) / 2;
    if (term(mid) < t) lo = mid + 1;
    else hi = mid;
  }
  if (lo == header_.nterms || term(lo) != t) return {};
  auto a = terms_[lo].postings_offset, b = terms_[lo + 1].postings_offset;
  if (a > b || b > header_.postings.bytes) damaged("bad postings offsets");
  return {postings_ + a, postings_ + b, terms_[lo].df};
}

StoredDoc Segment::stored(std::uint32_t d) const {
  auto a = docs_[d].data_offset, b = docs_[d + 1].data_offset;
  if (a > b || b > header_.doc_data.bytes) damaged("bad document offsets");
  const std::uint8_t *p = doc_data_ + a, *end = doc_data_ + b;
  auto str = [&]() {
    std::uint64_t n = 0;
    p = get_varint(p, end, n);
    if (!p || n > std::uint64_t(end - p)) damaged("bad document " + std::to_string(d));
    std::string_view s(reinterpret_cast<const char*>(p), n);
    p += n;
    return s;
  };
  StoredDoc s;
  s.id = str();
  s.title = str();
  s.text = str();
  s.venue = str();
  s.license = str();
  s.tags = str();
  std::uint64_t n = 0;
  p = get_varint(p, end, n);
  if (!p) damaged("bad document " + std::to_string(d));
  for (std::uint64_t i = 0; i < n; ++i) {
    auto k = str();
    s.fields.emplace_back(k, str());
  }
  return s;
}

std::optional<std::uint32_t> Segment::find_id(std::string_view id) const {
  std::uint32_t lo = 0, hi = header_.ndocs;
  auto id_of = [&](std::uint32_t i) {
    auto d = ids_[i];
    if (d >= header_.ndocs) damaged("bad id table");
    auto a = docs_[d].data_offset, b = docs_[d + 1].data_offset;
    if (a > b || b > header_.doc_data.bytes) damaged("bad document offsets");
    const std::uint8_t* p = doc_data_ + a;
    std::uint64_t n = 0;
    p = get_varint(p, doc_data_ + b, n);
    if (!p || n > std::uint64_t(doc_data_ + b - p)) damaged("bad document " + std::to_string(d));
    return std::string_view(reinterpret_cast<const char*>(p), n);
  };
  while (lo < hi) {
    auto mid = lo + (hi - lo) / 2;
    if (id_of(mid) < id) lo = mid + 1;
    else hi = mid;
  }
  if (lo < header_.ndocs && id_of(lo) == id) return ids_[lo];
  return std::nullopt;
}

}  // namespace retrieval
}  // namespace v1
}  // namespace mlrc
