#pragma once
// One immutable segment of the local index: its writer (in-memory inverted index, written once)
// and its reader (a read-only memory map; nothing is parsed when it is opened).
//
// File layout, little-endian, every section 8-byte aligned; readers find sections through the
// header's offsets only (see docs/retrieval.md):
//   SegmentHeader
//   doc_data  per document: varint-length strings id, title, text, venue, license, tags ('\n'
//             separated), then varint n and n key/value string pairs. Written first, while
//             documents arrive, so the bulk of the file reaches the disk during the build.
//   terms     TermEntry[nterms + 1]   sorted by term bytes; the last is a sentinel holding end offsets
//   term_text the term strings back to back, in the order of `terms`
//   postings  per term, per document in increasing order: varint((doc_delta << 4) | field_mask)
//             then one varint tf per bit of field_mask (the first delta is the doc number itself)
//   docs      DocEntry[ndocs + 1]     (the sentinel holds the end of doc_data)
//   ids       uint32[ndocs]           document numbers sorted by id, for duplicate checks
#include "retrieval/tokenizer.hpp"

#include <mlrcopilot/error.hpp>

#include <array>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace mlrc {
inline namespace v1 {
namespace retrieval {

inline constexpr std::size_t max_fields = 4;
inline constexpr char segment_magic[8] = {'M', 'L', 'R', 'C', 'S', 'E', 'G', '\0'};

/** A record ready to index: what the ingesters produce. */
struct Document {
  std::string id;
  std::string title;                                 ///< shown in hits
  std::array<std::string, max_fields> text;          ///< the indexed fields (meaning set by the corpus)
  std::string stored_text;                           ///< abstract / description / code, kept for hits
  int stored_field = -1;                             ///< if >= 0, that field indexes stored_text (saves a copy)
  float prior = 0;                                   ///< added to the score of every match (e.g. popularity)
  int year = 0;                                      ///< 0: unknown
  std::string venue, license;
  std::vector<std::string> tags;
  std::vector<std::pair<std::string, std::string>> fields;  ///< other stored attributes
};

struct Section {
  std::uint64_t offset = 0, bytes = 0;
};

struct SegmentHeader {
  char magic[8];
  std::uint32_t format_version;
  std::uint32_t header_bytes;
  std::uint32_t nfields;
  std::uint32_t ndocs;
  std::uint64_t nterms;
  std::uint64_t npostings;
  std::uint64_t file_bytes;
  std::uint64_t field_length_sum[max_fields];
  Section terms, term_text, postings, docs, doc_data, ids;
};
static_assert(sizeof(SegmentHeader) == 176);

struct TermEntry {
  std::uint64_t postings_offset;  // relative to the postings section
  std::uint32_t text_offset;      // relative to term_text
  std::uint32_t df;
};
static_assert(sizeof(TermEntry) == 16);

struct DocEntry {
  std::uint64_t data_offset;                   // relative to doc_data
  std::int32_t year;
  std::uint16_t length[max_fields];            // terms per field, saturated at 65535
  float prior;                                  // static score added to every match (popularity), 0: none
};
static_assert(sizeof(DocEntry) == 24);

/** A stored document decoded from doc_data (views into the mapping). */
struct StoredDoc {
  std::string_view id, title, text, venue, license, tags;
  std::vector<std::pair<std::string_view, std::string_view>> fields;
};

// LEB128.
inline void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}
/** Decodes a varint; returns nullptr on truncation. */
inline const std::uint8_t* get_varint(const std::uint8_t* p, const std::uint8_t* end, std::uint64_t& v) {
  v = 0;
  for (int shift = 0; p < end && shift < 64; shift += 7) {
    std::uint8_t b = *p++;
    v |= std::uint64_t(b & 0x7F) << shift;
    if (!(b & 0x80)) return p;
  }
  return nullptr;
}

/** A file written with POSIX calls so that it can be fsynced. Closes on destruction. */
class OutFile {
 public:
  /** Creates `path`, which must not exist. */
  explicit OutFile(const std::filesystem::path& path);
  ~OutFile();
  OutFile(const OutFile&) = delete;
  OutFile& operator=(const OutFile&) = delete;
  void write(const void* data, std::size_t n);  ///< appends
  void pad_to(std::uint64_t offset);            ///< appends zeros up to `offset`
  void write_at(std::uint64_t offset, const void* data, std::size_t n);
  std::uint64_t size() const noexcept { return size_; }
  /** Asks the kernel to start writing dirty pages out now (Linux), so the final fsync is short. */
  void start_writeback();
  void sync_and_close();

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

/** Builds one segment: document data streams to the file as documents arrive, the inverted
 *  index is kept in memory and written by `finish`. The file is removed unless `finish` succeeds. */
class SegmentWriter {
 public:
  /** Starts the segment file `path` (which must not exist). */
  SegmentWriter(std::size_t nfields, std::filesystem::path path);
  ~SegmentWriter();
  SegmentWriter(const SegmentWriter&) = delete;
  SegmentWriter& operator=(const SegmentWriter&) = delete;
  /** Adds a document; returns false (and adds nothing) if its id is already in this segment. */
  bool add(const Document& d);
  std::size_t docs() const noexcept { return docs_.size(); }
  bool contains(std::string_view id) const { return ids_.find(id) != ids_.end(); }
  /** Writes the index sections and the header, fsyncs and closes the file. */
  void finish();
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  void flush_doc_data(bool force);
  struct Postings {
    std::string bytes;
    std::uint32_t last_doc = 0;
    std::uint32_t df = 0;
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  // Term dictionary: linear probing, names back to back in an arena. Faster than
  // std::unordered_map here (it was the top of the build profile): no node per term.
  class Terms {
   public:
    std::uint32_t intern(std::string_view t, bool& added);
    std::string_view name(std::uint32_t id) const { return {arena_.data() + start_[id], start_[id + 1] - start_[id]}; }
    std::size_t size() const noexcept { return start_.size() - 1; }

   private:
    // A slot keeps the term's first 8 bytes and its length, so most probes never touch the arena.
    struct Slot {
      std::uint64_t prefix = 0;
      std::uint32_t tag = 0;  // high 24 bits of the hash | min(length, 255)
      std::uint32_t id1 = 0;  // id + 1; 0: empty
    };
    void grow();
    std::vector<Slot> slots_ = std::vector<Slot>(1 << 16);
    std::string arena_;
    std::vector<std::uint32_t> start_{0};
  };
  std::size_t nfields_;
  Tokenizer tokenizer_;
  Terms terms_;
  std::vector<Postings> postings_;
  std::unordered_map<std::string, std::uint32_t, Hash, std::equal_to<>> ids_;
  std::vector<DocEntry> docs_;
  std::filesystem::path path_;
  OutFile out_;
  std::string doc_data_;          // not yet written
  std::uint64_t doc_bytes_ = 0;   // doc data so far, written or not
  std::uint64_t unsynced_ = 0;    // bytes written since the last start_writeback
  bool finished_ = false;
  std::uint64_t field_length_sum_[max_fields] = {};
  std::uint64_t npostings_ = 0;
  // Per-document scratch: term id -> index into doc_terms_ + 1.
  std::vector<std::uint32_t> slot_;
  std::vector<std::pair<std::uint32_t, std::array<std::uint32_t, max_fields>>> doc_terms_;
};

/** A read-only, memory-mapped segment. Thread-safe (immutable). */
class Segment {
 public:
  /** Maps and validates `path`. Error(errc::unsupported) for a newer format version,
   *  Error(errc::parse) for a damaged file, Error(errc::io)/not_found if it cannot be opened. */
  explicit Segment(const std::filesystem::path& path);
  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  struct PostingList {
    const std::uint8_t* begin = nullptr;
    const std::uint8_t* end = nullptr;
    std::uint32_t df = 0;
  };
  /** The postings of `term` (df 0 when absent). */
  PostingList find(std::string_view term) const;
  std::uint32_t docs() const noexcept { return header_.ndocs; }
  const SegmentHeader& header() const noexcept { return header_; }
  const DocEntry& doc(std::uint32_t d) const noexcept { return docs_[d]; }
  /** Decodes document `d`'s stored data. */
  StoredDoc stored(std::uint32_t d) const;
  /** The document number of `id`, if present. */
  std::optional<std::uint32_t> find_id(std::string_view id) const;
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::string_view term(std::uint64_t i) const;
  [[noreturn]] void damaged(const std::string& what) const;

  std::filesystem::path path_;
  const std::uint8_t* base_ = nullptr;
  std::size_t size_ = 0;
  SegmentHeader header_{};
  const TermEntry* terms_ = nullptr;
  const char* term_text_ = nullptr;
  const std::uint8_t* postings_ = nullptr;
  const DocEntry* docs_ = nullptr;
  const std::uint8_t* doc_data_ = nullptr;
  const std::uint32_t* ids_ = nullptr;
};

/** Writes `data` to `path` via `path`.tmp-<pid>: write, fsync, rename, fsync the folder. */
void write_file_atomically(const std::filesystem::path& path, std::string_view data);
/** fsyncs a folder so that a rename in it is durable. */
void sync_directory(const std::filesystem::path& dir);

}  // namespace retrieval
}  // namespace v1
}  // namespace mlrc
