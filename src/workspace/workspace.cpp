// Workspace: confined file operations and content-addressed snapshots.
//
// Store layout (outside the workspace, so the agent cannot rewrite history):
//   objects/ab/cdef…      blob = exact file content, named by its SHA-256; written once, mode 0444
//   snapshots/<id>.json   manifest; <id> = SHA-256 of the manifest text (checked when loaded)
//   index.jsonl           one line per snapshot, appended only after its manifest exists
// Every file is written to a temporary name and renamed into place, so a crash leaves either the
// old state or the new one; a torn last index line is skipped when reading.

#include <mlrcopilot/workspace.hpp>

#include "llm/json_util.hpp"
#include "workspace/diff.hpp"

#include <boost/json.hpp>
#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <unordered_map>
#include <utility>

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

namespace mlrc {
inline namespace v1 {

namespace fs = std::filesystem;
namespace json = detail::json;

namespace {

constexpr std::size_t kBlock = 1u << 20;  // I/O and hashing block
constexpr std::size_t kSniff = 8192;      // bytes inspected for binary detection

std::string q(std::string_view s) { return "'" + std::string(s) + "'"; }

[[noreturn]] void fail_io(const std::string& what, int err = errno) {
  throw Error(errc::io, what + ": " + std::strerror(err));
}
[[noreturn]] void invalid(const std::string& what) { throw Error(errc::invalid_argument, what); }

std::int64_t ns_of(const timespec& t) { return std::int64_t(t.tv_sec) * 1'000'000'000 + t.tv_nsec; }

// ---------------------------------------------------------------------------------------------
// File descriptors and raw I/O

class Fd {
 public:
  explicit Fd(int fd = -1) noexcept : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  // Closes and reports an error: for a written file, close can be where a failed write shows.
  void close(const std::string& what) {
    int fd = std::exchange(fd_, -1);
    if (fd >= 0 && ::close(fd) != 0) fail_io("closing " + what);
  }

 private:
  int fd_;
};

Fd open_fd(const fs::path& p, int flags, mode_t mode = 0) { return Fd(::open(p.c_str(), flags | O_CLOEXEC, mode)); }

void write_all(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_io("writing " + what);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Reads up to `n` bytes; fewer only at the end of the file.
std::size_t read_full(int fd, char* buf, std::size_t n, const std::string& what) {
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, buf + got, n - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      fail_io("reading " + what);
    }
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  return got;
}

std::string read_fd(int fd, std::size_t size_hint, const std::string& what) {
  std::string out;
  out.reserve(size_hint);
  std::string buf(kBlock, '\0');
  while (std::size_t n = read_full(fd, buf.data(), buf.size(), what)) out.append(buf.data(), n);
  return out;
}

std::string read_link(const fs::path& p) {
  std::string buf(256, '\0');
  for (;;) {
    ssize_t n = ::readlink(p.c_str(), buf.data(), buf.size());
    if (n < 0) fail_io("reading symlink " + p.string());
    if (static_cast<std::size_t>(n) < buf.size()) {
      buf.resize(static_cast<std::size_t>(n));
      return buf;
    }
    buf.resize(buf.size() * 2);
  }
}

std::vector<std::string> dir_names(const fs::path& dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) fail_io("listing " + dir.string());
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d.get())) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  return names;
}

std::string temp_suffix() {
  static std::atomic<std::uint64_t> seq{0};
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::to_string(::getpid()) + "." + std::to_string(++seq) + "." + std::to_string(rng() & 0xffffffffu);
}

// A temporary file in `dir`, renamed onto its final name by `commit`, removed otherwise.
class TempFile {
 public:
  TempFile(const fs::path& dir, std::string_view hint, mode_t mode) {
    for (int attempt = 0;; ++attempt) {
      path_ = dir / ("." + std::string(hint.substr(0, 100)) + ".tmp-" + temp_suffix());  // within NAME_MAX
      fd_ = open_fd(path_, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
      if (fd_) return;
      if (errno != EEXIST || attempt > 8) fail_io("creating a temporary file in " + dir.string());
    }
  }
  ~TempFile() {
    if (!committed_) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  int fd() const noexcept { return fd_.get(); }
  const fs::path& path() const noexcept { return path_; }
  void commit(const fs::path& final_path, bool sync) {
    if (sync && ::fsync(fd_.get()) != 0) fail_io("syncing " + path_.string());
    fd_.close(path_.string());
    if (::rename(path_.c_str(), final_path.c_str()) != 0) fail_io("renaming onto " + final_path.string());
    committed_ = true;
  }

 private:
  fs::path path_;
  Fd fd_;
  bool committed_ = false;
};

// Copies the whole of `in` (from its current offset) to `out`. A reflink shares the extents and
// writes no data (btrfs, XFS); copy_file_range stays in the kernel; read/write works everywhere.
void clone_or_copy(int in, int out, const std::string& what) {
  if (::ioctl(out, FICLONE, in) == 0) return;
  for (;;) {
    ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, 64 * kBlock, 0);
    if (n > 0) continue;
    if (n == 0) return;
    if (errno == EINTR) continue;
    if (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP) break;
    fail_io("copying " + what);
  }
  std::string buf(kBlock, '\0');
  while (std::size_t n = read_full(in, buf.data(), buf.size(), what)) write_all(out, {buf.data(), n}, what);
}

// ---------------------------------------------------------------------------------------------
// Hashing and content classification

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) {
      EVP_MD_CTX_free(ctx_);
      throw Error(errc::internal, "SHA-256: OpenSSL initialisation failed");
    }
  }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(const void* p, std::size_t n) {
    if (EVP_DigestUpdate(ctx_, p, n) != 1) throw Error(errc::internal, "SHA-256: update failed");
  }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx_, md, &len) != 1) throw Error(errc::internal, "SHA-256: final failed");
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
      out += digits[md[i] >> 4];
      out += digits[md[i] & 0xF];
    }
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

std::string sha256_hex(std::string_view s) {
  Sha256 h;
  h.update(s.data(), s.size());
  return h.hex();
}

bool is_hex_id(std::string_view s, std::size_t len) {
  return s.size() == len && std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// True when `s` (the start of a file; `more` when the file goes on) holds a NUL byte or is not
// valid UTF-8 (overlong forms, surrogates and code points above U+10FFFF are invalid). A
// sequence cut by the end of the sample is fine when more follows.
bool looks_binary(std::string_view s, bool more) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  for (std::size_t i = 0; i < n;) {
    const unsigned c = p[i];
    if (c == 0) return true;
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return true;
    }
    for (std::size_t k = 1; k < len; ++k) {
      if (i + k >= n) return !more;
      const unsigned cc = p[i + k];
      if (k == 1 ? (cc < lo || cc > hi) : (cc < 0x80 || cc > 0xBF)) return true;
    }
    i += len;
  }
  return false;
}
bool looks_binary(std::string_view content) { return looks_binary(content.substr(0, kSniff), content.size() > kSniff); }

// Drops a UTF-8 sequence cut short by the end of `s` (after truncating at a byte count).
void drop_partial_utf8(std::string& s) {
  std::size_t i = s.size(), cont = 0;
  while (i > 0 && cont < 3 && (static_cast<unsigned char>(s[i - 1]) & 0xC0) == 0x80) --i, ++cont;
  if (i == 0) return;
  const auto lead = static_cast<unsigned char>(s[i - 1]);
  const std::size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
  if (need > cont + 1) s.resize(i - 1);
}

// ---------------------------------------------------------------------------------------------
// Paths and patterns

// Segments of a '/'-separated path, without empty ones ("a//b/" -> a, b). Keeps "." and "..".
std::vector<std::string> split(std::string_view p) {
  std::vector<std::string> out;
  while (!p.empty()) {
    std::size_t slash = p.find('/');
    std::string_view seg = p.substr(0, slash);
    if (!seg.empty()) out.emplace_back(seg);
    if (slash == std::string_view::npos) break;
    p.remove_prefix(slash + 1);
  }
  return out;
}

std::string join(const std::vector<std::string>& segs, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    if (i) out += '/';
    out += segs[i];
  }
  return out;
}
std::string join_rel(const std::string& dir, std::string_view name) {
  return dir.empty() ? std::string(name) : dir + "/" + std::string(name);
}

struct Pattern {
  std::string text;
  std::vector<std::string> segs;
};

// Does pattern segments pat[pi..] match path segments path[si..n)? A "**" segment takes any
// number of whole segments (including none); others are fnmatch globs within one segment.
bool glob_match(const std::vector<std::string>& pat, std::size_t pi, const std::vector<std::string>& path,
                std::size_t si, std::size_t n) {
  if (pi == pat.size()) return si == n;
  if (pat[pi] == "**") {
    for (std::size_t k = si; k <= n; ++k)
      if (glob_match(pat, pi + 1, path, k, n)) return true;
    return false;
  }
  return si < n && ::fnmatch(pat[pi].c_str(), path[si].c_str(), 0) == 0 && glob_match(pat, pi + 1, path, si + 1, n);
}

// The first pattern covering `rel` or one of its parent directories, or null.
const Pattern* covering(const std::vector<Pattern>& pats, std::string_view rel) {
  if (pats.empty()) return nullptr;
  const auto segs = split(rel);
  for (std::size_t n = 1; n <= segs.size(); ++n)
    for (const auto& p : pats)
      if (glob_match(p.segs, 0, segs, 0, n)) return &p;
  return nullptr;
}

std::vector<Pattern> compile(const std::vector<std::string>& globs, const char* option) {
  std::vector<Pattern> out;
  for (const auto& g : globs) {
    Pattern p{g, {}};
    for (auto& s : split(g))
      if (s != ".") p.segs.push_back(std::move(s));
    if (g.empty() || g.front() == '/' || p.segs.empty() ||
        std::find(p.segs.begin(), p.segs.end(), "..") != p.segs.end())
      throw Error(errc::invalid_argument, std::string("WorkspaceOptions::") + option + ": pattern " + q(g) +
                                              " must be a relative path without '..'");
    out.push_back(std::move(p));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Manifests

struct Entry {
  std::string path;  // relative, '/'-separated
  std::string hash;  // SHA-256 of the content (of the link target for a symlink)
  std::uint64_t size = 0;
  std::uint32_t mode = 0;  // permission bits
  std::int64_t mtime_ns = 0, ctime_ns = 0;
  std::uint64_t ino = 0;
  bool large = false;  // content not in the store
  bool is_link = false;
  std::string target;  // symlink target

  bool same_content(const Entry& o) const { return is_link == o.is_link && hash == o.hash; }
  bool same(const Entry& o) const { return same_content(o) && (is_link || mode == o.mode); }
  std::string state() const { return (is_link ? "L" : "F") + hash; }  // for undo; "" = absent
};

struct Manifest {
  std::string id, label, parent;
  std::int64_t time_ns = 0;   // wall clock when the scan started (racy-file check)
  std::vector<Entry> files;  // sorted by path

  const Entry* find(std::string_view path) const {
    auto it = std::lower_bound(files.begin(), files.end(), path, [](const Entry& e, std::string_view p) { return e.path < p; });
    return it != files.end() && it->path == path ? &*it : nullptr;
  }
};

std::string to_text(const Manifest& m) {
  boost::json::array files;
  files.reserve(m.files.size());
  for (const auto& e : m.files) {
    boost::json::object o;
    o["path"] = e.path;
    o["hash"] = e.hash;
    o["size"] = e.size;
    o["mode"] = e.mode;
    o["mtime_ns"] = e.mtime_ns;
    o["ctime_ns"] = e.ctime_ns;
    o["ino"] = e.ino;
    if (e.large) o["large"] = true;
    if (e.is_link) o["link"] = e.target;
    files.push_back(std::move(o));
  }
  boost::json::object root;
  root["format"] = "mlrcopilot.snapshot/1";
  root["label"] = m.label;
  root["parent"] = m.parent;
  root["time_ns"] = m.time_ns;
  root["files"] = std::move(files);
  return boost::json::serialize(root);
}

// A manifest path must stay relative and below the root: checkout writes to dest/<path>.
bool safe_rel(std::string_view p) {
  if (p.empty() || p.front() == '/' || p.back() == '/') return false;
  for (const auto& s : split(p))
    if (s == "." || s == "..") return false;
  return p.find("//") == std::string_view::npos;
}

Manifest parse_manifest(std::string_view text, const std::string& id) {
  const std::string what = "snapshot " + q(id);
  json::Parsed doc(text);
  if (!doc.ok()) throw Error(errc::parse, what + ": manifest is not valid JSON (" + doc.error() + ")");
  const auto root = doc.root();
  Manifest m;
  m.id = id;
  m.label = json::str(root, "label");
  m.parent = json::str(root, "parent");
  m.time_ns = json::int_or(root, "time_ns");
  auto files = json::member(root, "files");
  if (!files || !json::is_array(*files)) throw Error(errc::parse, what + ": manifest has no 'files' array");
  simdjson::dom::array arr = files->get_array().value_unsafe();
  for (json::Element f : arr) {
    Entry e;
    e.path = json::str(f, "path");
    e.hash = json::str(f, "hash");
    auto u64 = [&](const char* key) {
      std::uint64_t v = 0;
      auto el = json::member(f, key);
      if (el && el->get(v) != simdjson::SUCCESS) v = 0;
      return v;
    };
    e.size = u64("size");
    e.mode = static_cast<std::uint32_t>(u64("mode") & 07777);
    e.ino = u64("ino");
    e.mtime_ns = json::int_or(f, "mtime_ns");
    e.ctime_ns = json::int_or(f, "ctime_ns");
    if (auto l = json::member(f, "large")) e.large = l->is_bool() && l->get_bool().value_unsafe();
    if (json::member(f, "link")) {
      e.is_link = true;
      e.target = json::str(f, "link");
    }
    if (!safe_rel(e.path) || !is_hex_id(e.hash, 64))
      throw Error(errc::parse, what + ": manifest has a bad entry (path " + q(e.path) + ")");
    m.files.push_back(std::move(e));
  }
  std::sort(m.files.begin(), m.files.end(), [](const Entry& a, const Entry& b) { return a.path < b.path; });
  return m;
}

// Walks two sorted entry lists together: f(a, b) with null for the side that lacks the path.
template <class F>
void merge_walk(const std::vector<Entry>& a, const std::vector<Entry>& b, F f) {
  std::size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i].path < b[j].path)) {
      f(&a[i++], nullptr);
    } else if (i == a.size() || b[j].path < a[i].path) {
      f(nullptr, &b[j++]);
    } else {
      f(&a[i++], &b[j++]);
    }
  }
}

// A file modified within the timestamp granularity of a snapshot's start could change again
// without its mtime moving, so the stat cache trusts only mtimes clearly before that start
// (git's "racily clean" problem). Whole-second mtimes suggest a coarse file system.
bool settled(std::int64_t mtime_ns, std::int64_t snapshot_ns) {
  static const std::int64_t fine = [] {
    timespec res{};
    return std::max<std::int64_t>(clock_getres(CLOCK_REALTIME_COARSE, &res) == 0 ? 2 * ns_of(res) : 0, 10'000'000);
  }();
  const std::int64_t margin = mtime_ns % 1'000'000'000 == 0 ? 2'000'000'000 : fine;
  return mtime_ns < snapshot_ns - margin;
}

// Same file as when `cached` was recorded, judging by stat data alone.
bool stat_unchanged(const Entry& cached, std::int64_t cached_time_ns, const struct stat& st) {
  return !cached.is_link && cached.size == static_cast<std::uint64_t>(st.st_size) &&
         cached.mtime_ns == ns_of(st.st_mtim) && cached.ctime_ns == ns_of(st.st_ctim) &&
         cached.ino == static_cast<std::uint64_t>(st.st_ino) && settled(cached.mtime_ns, cached_time_ns);
}

struct ScanStats {
  std::uint64_t hashed = 0, stored = 0;
};

}  // namespace

// =============================================================================================

struct Workspace::Impl {
  fs::path root;
  WorkspaceOptions opts;
  std::vector<Pattern> read_only, ignore;
  fs::path store;
  std::optional<Manifest> last;  // newest manifest seen by snapshot(): the stat cache
  struct Cursor {
    std::size_t index;  // index (in the snapshot list) of the snapshot undo last restored from
    std::string state;  // the state it restored
  };
  std::map<std::string, Cursor> cursors;  // per path, for repeated undo

  struct Resolved {
    fs::path real;         // absolute, symlinks resolved
    std::string rel;       // the path as given, normalised lexically
    std::string real_rel;  // `real` relative to the root
  };

  bool inside(const fs::path& p) const {
    const std::string& r = root.native();
    const std::string& s = p.native();
    if (r == "/") return true;
    return s == r || (s.size() > r.size() && s.compare(0, r.size(), r) == 0 && s[r.size()] == '/');
  }
  std::string rel_of(const fs::path& p) const {
    const std::string& r = root.native();
    if (p.native().size() <= r.size()) return {};
    return p.native().substr(r == "/" ? 1 : r.size() + 1);
  }
  bool ignored(std::string_view rel) const { return covering(ignore, rel) != nullptr; }

  Resolved resolve(std::string_view rel, bool for_write) const {
    const std::string shown(rel);
    if (rel.empty()) invalid("empty path");
    if (rel.find('\0') != std::string_view::npos) invalid("path " + q(shown) + " contains a NUL byte");
    if (rel.front() == '/') invalid("path " + q(shown) + " is absolute; paths are relative to the workspace root");

    // Lexical pass: '..' must not climb above the root.
    std::vector<std::string> segs;
    for (auto& s : split(rel)) {
      if (s == ".") continue;
      if (s != "..") {
        segs.push_back(std::move(s));
      } else if (segs.empty()) {
        invalid("path " + q(shown) + " leaves the workspace");
      } else {
        segs.pop_back();
      }
    }

    // Physical pass: follow symlinks component by component as the kernel would (dangling ones
    // included: writing through them would create their target), then check where we ended.
    fs::path cur = root;
    std::deque<std::string> todo(segs.begin(), segs.end());
    int links = 0;
    std::string via;
    while (!todo.empty()) {
      std::string s = std::move(todo.front());
      todo.pop_front();
      if (s == ".") continue;
      if (s == "..") {
        cur = cur.parent_path();
        continue;
      }
      fs::path next = cur / s;
      struct stat st;
      if (::lstat(next.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
        if (++links > 40) invalid("path " + q(shown) + " has too many levels of symbolic links");
        const std::string target = read_link(next);
        if (via.empty()) via = inside(next) ? rel_of(next) : next.string();
        auto tsegs = split(target);
        todo.insert(todo.begin(), tsegs.begin(), tsegs.end());
        if (!target.empty() && target.front() == '/') cur = "/";
        continue;
      }
      cur = std::move(next);
    }
    if (!inside(cur)) invalid("path " + q(shown) + " leaves the workspace through symlink " + q(via));

    Resolved r{cur, join(segs, segs.size()), rel_of(cur)};
    if (for_write) {
      if (r.real_rel.empty()) invalid("path " + q(shown) + " is the workspace root, not a file");
      for (const std::string* p : {&r.rel, &r.real_rel})
        if (const Pattern* pat = covering(read_only, *p))
          invalid("path " + q(shown) + " is read-only (pattern " + q(pat->text) + ")");
    }
    return r;
  }

  // The entry `rel` itself, for replacing it: its parent is resolved and confined, but a symlink
  // in the last component is not followed (restore replaces the link, not what it points to).
  fs::path locate_entry(const std::string& rel) const {
    const std::size_t slash = rel.rfind('/');
    const fs::path full = resolve(slash == std::string::npos ? "." : rel.substr(0, slash), false).real /
                          (slash == std::string::npos ? rel : rel.substr(slash + 1));
    if (const Pattern* pat = covering(read_only, rel_of(full)))
      invalid("path " + q(rel) + " is read-only (pattern " + q(pat->text) + ")");
    return full;
  }

  // --- file helpers ----------------------------------------------------------------------------

  // Opens an existing regular file for reading. O_NONBLOCK: a FIFO must not hang the tool.
  static Fd open_regular(const fs::path& real, std::string_view shown, struct stat& st) {
    Fd fd = open_fd(real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    if (!fd) {
      if (errno == ENOENT || errno == ENOTDIR) throw Error(errc::not_found, "file " + q(shown) + " does not exist");
      fail_io("opening " + q(shown));
    }
    if (::fstat(fd.get(), &st) != 0) fail_io("reading " + q(shown));
    if (S_ISDIR(st.st_mode)) invalid(q(shown) + " is a directory");
    if (!S_ISREG(st.st_mode)) invalid(q(shown) + " is not a regular file");
    return fd;
  }

  // Checks that `real` may be replaced by a file and creates its parent directories; returns the
  // permission bits of the file it replaces, if any.
  static std::optional<mode_t> prepare_target(const fs::path& real, std::string_view shown) {
    struct stat st;
    if (::lstat(real.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) invalid(q(shown) + " is a directory");
      return st.st_mode & 07777;
    }
    std::error_code ec;
    fs::create_directories(real.parent_path(), ec);
    if (ec) throw Error(errc::io, "creating the directories of " + q(shown) + ": " + ec.message());
    return std::nullopt;
  }

  static void atomic_write(const fs::path& real, std::string_view data, std::optional<mode_t> mode) {
    TempFile t(real.parent_path(), real.filename().native(), 0666);  // new files get 0666 & ~umask
    write_all(t.fd(), data, real.string());
    if (mode && ::fchmod(t.fd(), *mode) != 0) fail_io("setting the mode of " + real.string());
    t.commit(real, false);
  }

  // Copies the file `src` to `dst` (already resolved) atomically, keeping its mode.
  static void copy_file(const fs::path& src, const fs::path& dst, std::string_view from, std::string_view to) {
    struct stat st;
    Fd in = open_regular(src, from, st);
    prepare_target(dst, to);
    TempFile t(dst.parent_path(), dst.filename().native(), 0600);
    clone_or_copy(in.get(), t.fd(), q(from));
    if (::fchmod(t.fd(), st.st_mode & 07777) != 0) fail_io("setting the mode of " + q(to));
    t.commit(dst, false);
  }

  // Removes directories left empty above `real`, up to the root.
  void remove_empty_parents(fs::path p) const {
    for (p = p.parent_path(); inside(p) && p != root; p = p.parent_path())
      if (::rmdir(p.c_str()) != 0) break;
  }

  // --- store -----------------------------------------------------------------------------------

  void need_store() const {
    if (store.empty()) throw Error(errc::config, "snapshots need a store: set WorkspaceOptions::store");
  }
  fs::path object_path(const std::string& h) const { return store / "objects" / h.substr(0, 2) / h.substr(2); }
  fs::path manifest_path(const std::string& id) const { return store / "snapshots" / (id + ".json"); }
  fs::path index_path() const { return store / "index.jsonl"; }
  bool has_object(const std::string& h) const { return ::access(object_path(h).c_str(), F_OK) == 0; }

  void finish_object(TempFile& t, const std::string& hash) const {
    const fs::path dest = object_path(hash);
    if (::mkdir(dest.parent_path().c_str(), 0777) != 0 && errno != EEXIST) fail_io("creating " + dest.parent_path().string());
    t.commit(dest, opts.fsync);
  }

  // Hashes a regular file; with `store_it`, also puts its content into the store when new.
  // `size_hint` (the size from stat) only sizes the buffer: small files are read in one go.
  std::string hash_file(const fs::path& full, std::uint64_t size_hint, bool store_it, ScanStats& stats) const {
    const std::string what = full.string();
    Fd fd = open_fd(full, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    if (!fd) fail_io("reading " + what);
    std::string buf(static_cast<std::size_t>(std::min<std::uint64_t>(kBlock, size_hint + 1)), '\0');
    Sha256 h;
    std::size_t reads = 0, first = 0;
    for (;;) {
      std::size_t n = read_full(fd.get(), buf.data(), buf.size(), what);
      if (n == 0) break;
      if (reads++ == 0) first = n;
      h.update(buf.data(), n);
      stats.hashed += n;
      if (n < buf.size()) break;
    }
    std::string hash = h.hex();
    if (!store_it || has_object(hash)) return hash;
    TempFile t(store / "objects", hash.substr(0, 12), 0444);
    if (reads <= 1) {  // the whole file is still in the buffer
      write_all(t.fd(), {buf.data(), first}, t.path().string());
      stats.stored += first;
    } else {
      // Copy again, hashing what is copied, so the blob's name matches its bytes even if the
      // file changed since the first pass.
      if (::lseek(fd.get(), 0, SEEK_SET) != 0) fail_io("seeking in " + what);
      Sha256 h2;
      while (std::size_t n = read_full(fd.get(), buf.data(), buf.size(), what)) {
        h2.update(buf.data(), n);
        write_all(t.fd(), {buf.data(), n}, t.path().string());
        stats.stored += n;
      }
      hash = h2.hex();
    }
    finish_object(t, hash);
    return hash;
  }

  // Records the working tree (sorted by path). `cache`: a manifest whose stat data vouch for
  // files that did not change since; `store_it`: put new small contents into the store.
  std::vector<Entry> scan(const Manifest* cache, bool store_it, ScanStats& stats) const {
    std::unordered_map<std::string_view, const Entry*> known;
    if (cache)
      for (const auto& e : cache->files) known.emplace(e.path, &e);
    std::vector<Entry> out;
    scan_dir(root, {}, known, cache ? cache->time_ns : 0, store_it, stats, out);
    std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.path < b.path; });
    return out;
  }

  void scan_dir(const fs::path& dir, const std::string& rel, const std::unordered_map<std::string_view, const Entry*>& known,
                std::int64_t cache_time, bool store_it, ScanStats& stats, std::vector<Entry>& out) const {
    for (const auto& name : dir_names(dir)) {
      std::string child = join_rel(rel, name);
      if (ignored(child)) continue;
      const fs::path full = dir / name;
      struct stat st;
      if (::lstat(full.c_str(), &st) != 0) continue;  // vanished meanwhile
      if (S_ISDIR(st.st_mode)) {
        scan_dir(full, child, known, cache_time, store_it, stats, out);
        continue;
      }
      if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) continue;  // FIFOs, sockets: no content
      Entry e;
      e.path = std::move(child);
      e.size = static_cast<std::uint64_t>(st.st_size);
      e.mtime_ns = ns_of(st.st_mtim);
      e.ctime_ns = ns_of(st.st_ctim);
      e.ino = static_cast<std::uint64_t>(st.st_ino);
      if (S_ISLNK(st.st_mode)) {
        e.is_link = true;
        e.target = read_link(full);
        e.hash = sha256_hex(e.target);
      } else {
        e.mode = st.st_mode & 07777;
        e.large = e.size >= opts.large_file_bytes;
        auto it = known.find(e.path);
        if (it != known.end() && it->second->large == e.large && stat_unchanged(*it->second, cache_time, st))
          e.hash = it->second->hash;
        else
          e.hash = hash_file(full, e.size, store_it && !e.large, stats);
      }
      out.push_back(std::move(e));
    }
  }

  std::vector<std::string> index_ids() const {
    need_store();
    Fd fd = open_fd(index_path(), O_RDONLY);
    if (!fd) {
      if (errno == ENOENT) return {};
      fail_io("reading " + index_path().string());
    }
    const std::string text = read_fd(fd.get(), 0, index_path().string());
    std::vector<std::string> ids;
    std::size_t pos = 0;
    // A line without its newline is an append torn by a crash: the snapshot never became visible.
    for (std::size_t nl; (nl = text.find('\n', pos)) != std::string::npos; pos = nl + 1) {
      json::Parsed line(std::string_view(text).substr(pos, nl - pos));
      if (!line.ok()) continue;
      std::string_view id = json::str(line.root(), "id");
      if (is_hex_id(id, 64)) ids.emplace_back(id);
    }
    return ids;
  }

  Manifest load_manifest(const std::string& id) const {
    const fs::path p = manifest_path(id);
    Fd fd = open_fd(p, O_RDONLY);
    if (!fd) {
      if (errno == ENOENT) throw Error(errc::not_found, "snapshot " + q(id) + " not found");
      fail_io("reading " + p.string());
    }
    const std::string text = read_fd(fd.get(), 0, p.string());
    if (sha256_hex(text) != id) throw Error(errc::parse, "snapshot " + q(id) + " is corrupt: its manifest does not hash to its id");
    return parse_manifest(text, id);
  }

  std::optional<Manifest> newest() const {
    auto ids = index_ids();
    if (ids.empty()) return std::nullopt;
    if (last && last->id == ids.back()) return *last;
    return load_manifest(ids.back());
  }

  // Full id from an id or a unique prefix of at least 6 hex digits.
  std::string find_id(std::string id) const {
    need_store();
    std::transform(id.begin(), id.end(), id.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!is_hex_id(id, id.size()) || id.empty()) throw Error(errc::not_found, "snapshot " + q(id) + " not found (ids are hex)");
    if (id.size() == 64 && ::access(manifest_path(id).c_str(), F_OK) == 0) return id;
    if (id.size() < 6) throw Error(errc::not_found, "snapshot " + q(id) + " not found (give at least 6 hex digits)");
    std::string found;
    for (auto& full : index_ids()) {
      if (full.compare(0, id.size(), id) != 0 || full == found) continue;
      if (!found.empty()) invalid("snapshot id " + q(id) + " is ambiguous");
      found = full;
    }
    if (found.empty()) throw Error(errc::not_found, "snapshot " + q(id) + " not found");
    return found;
  }

  // Current content of a manifest entry: from the store, or from the working tree.
  std::string content(const Entry& e, bool working) const {
    const fs::path p = working ? root / e.path : object_path(e.hash);
    Fd fd = open_fd(p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    if (!fd) {
      if (!working && errno == ENOENT) throw Error(errc::not_found, "content of " + q(e.path) + " is missing from the store");
      fail_io("reading " + p.string());
    }
    return read_fd(fd.get(), e.size, p.string());
  }

  // "" when absent, else Entry::state() of what is at `real` now.
  std::string state_now(const fs::path& real, std::string_view shown) const {
    struct stat st;
    if (::lstat(real.c_str(), &st) != 0) return {};
    if (S_ISLNK(st.st_mode)) return "L" + sha256_hex(read_link(real));
    if (S_ISDIR(st.st_mode)) invalid(q(shown) + " is a directory");
    ScanStats ignore_stats;
    return "F" + hash_file(real, static_cast<std::uint64_t>(st.st_size), false, ignore_stats);
  }

  // Makes `real` hold what `e` recorded (removes it when `e` is null). Content comes from the
  // store; large files must be handled by the caller.
  void put_back(const fs::path& real, const Entry* e, std::string_view shown) const {
    if (!e) {
      if (::unlink(real.c_str()) != 0 && errno != ENOENT) fail_io("removing " + q(shown));
      remove_empty_parents(real);
      return;
    }
    prepare_target(real, shown);
    if (e->is_link) {  // a new link under a temporary name, renamed over the old entry
      const fs::path tmp = real.parent_path() / ("." + real.filename().native() + ".tmp-" + temp_suffix());
      if (::symlink(e->target.c_str(), tmp.c_str()) != 0) fail_io("creating symlink " + q(shown));
      if (::rename(tmp.c_str(), real.c_str()) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        fail_io("creating symlink " + q(shown), err);
      }
      return;
    }
    Fd in = open_fd(object_path(e->hash), O_RDONLY);
    if (!in) throw Error(errc::not_found, "content of " + q(shown) + " is missing from the store");
    TempFile t(real.parent_path(), real.filename().native(), 0600);
    clone_or_copy(in.get(), t.fd(), q(shown));
    if (::fchmod(t.fd(), e->mode) != 0) fail_io("setting the mode of " + q(shown));
    t.commit(real, false);
  }

  // Whether the workspace still holds the content a large file had in snapshot `m`.
  bool large_still_matches(const Entry& e, const Manifest& m) const {
    const fs::path p = root / e.path;
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || static_cast<std::uint64_t>(st.st_size) != e.size) return false;
    if (stat_unchanged(e, m.time_ns, st)) return true;
    ScanStats s;
    return hash_file(p, e.size, false, s) == e.hash;
  }
};

// =============================================================================================

Workspace::Workspace(fs::path root, WorkspaceOptions opts) : impl_(std::make_unique<Impl>()) {
  std::error_code ec;
  fs::path canon = fs::canonical(root, ec);
  if (ec) throw Error(errc::io, "workspace root " + q(root.string()) + ": " + ec.message());
  if (!fs::is_directory(canon, ec)) throw Error(errc::io, "workspace root " + q(root.string()) + " is not a directory");
  Impl& I = *impl_;
  I.root = std::move(canon);
  I.read_only = compile(opts.read_only, "read_only");
  I.ignore = compile(opts.ignore, "ignore");
  if (!opts.store.empty()) {
    fs::path store = fs::weakly_canonical(fs::absolute(opts.store, ec), ec);
    if (ec) throw Error(errc::io, "snapshot store " + q(opts.store.string()) + ": " + ec.message());
    if (I.inside(store))
      invalid("snapshot store " + q(store.string()) + " lies inside the workspace; the agent could rewrite it");
    for (const char* sub : {"objects", "snapshots"}) {
      fs::create_directories(store / sub, ec);
      if (ec) throw Error(errc::io, "creating snapshot store " + q(store.string()) + ": " + ec.message());
    }
    I.store = fs::canonical(store);
  }
  I.opts = std::move(opts);
}

Workspace::~Workspace() = default;
Workspace::Workspace(Workspace&&) noexcept = default;
Workspace& Workspace::operator=(Workspace&&) noexcept = default;

const fs::path& Workspace::root() const noexcept { return impl_->root; }
const WorkspaceOptions& Workspace::options() const noexcept { return impl_->opts; }

fs::path Workspace::resolve(std::string_view rel, bool for_write) const { return impl_->resolve(rel, for_write).real; }

std::vector<FileEntry> Workspace::list(std::string_view dir, bool recursive) const {
  const Impl& I = *impl_;
  const auto r = I.resolve(dir, false);
  struct stat st;
  if (::stat(r.real.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) throw Error(errc::not_found, "directory " + q(dir) + " does not exist");
    fail_io("listing " + q(dir));
  }
  if (!S_ISDIR(st.st_mode)) invalid(q(dir) + " is not a directory");

  std::vector<FileEntry> out;
  auto walk = [&](auto& self, const fs::path& real, const std::string& rel) -> void {
    for (const auto& name : dir_names(real)) {
      FileEntry e;
      e.path = join_rel(rel, name);
      if (I.ignored(e.path)) continue;
      const fs::path full = real / name;
      struct stat ls;
      if (::lstat(full.c_str(), &ls) != 0) continue;  // vanished meanwhile
      e.symlink = S_ISLNK(ls.st_mode);
      e.is_dir = S_ISDIR(ls.st_mode);
      e.size = S_ISREG(ls.st_mode) ? static_cast<std::uint64_t>(ls.st_size) : 0;
      e.read_only = covering(I.read_only, e.path) != nullptr;
      if (e.symlink) {  // describe the target when it is inside the workspace
        try {
          struct stat ts;
          if (::stat(I.resolve(e.path, false).real.c_str(), &ts) == 0) {
            e.is_dir = S_ISDIR(ts.st_mode);
            e.size = S_ISREG(ts.st_mode) ? static_cast<std::uint64_t>(ts.st_size) : 0;
          }
        } catch (const Error&) {
        }
      }
      const std::string child = e.path;  // not a reference into `out`: the recursion grows it
      out.push_back(std::move(e));
      if (recursive && S_ISDIR(ls.st_mode)) self(self, full, child);
    }
  };
  walk(walk, r.real, r.rel);
  std::sort(out.begin(), out.end(), [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });
  return out;
}

ReadResult Workspace::read(std::string_view path, std::size_t first_line, std::size_t last_line) const {
  const Impl& I = *impl_;
  const auto r = I.resolve(path, false);
  if (last_line != 0 && first_line > last_line)
    invalid("line range " + std::to_string(first_line) + "-" + std::to_string(last_line) + " of " + q(path) + " is empty");
  struct stat st;
  Fd fd = Impl::open_regular(r.real, path, st);
  ReadResult res;
  res.size = static_cast<std::uint64_t>(st.st_size);

  const std::string what = q(path);
  std::string buf(kBlock, '\0');
  std::size_t n = read_full(fd.get(), buf.data(), buf.size(), what);
  if (looks_binary(std::string_view(buf.data(), std::min(n, kSniff)), n > kSniff)) {
    res.binary = true;
    return res;
  }

  // One pass over the file: collect the selected lines up to the cap, count all lines.
  const std::size_t from = first_line == 0 ? 1 : first_line;
  const std::size_t to = last_line == 0 ? SIZE_MAX : last_line;
  const std::size_t cap = I.opts.max_read_bytes;
  std::size_t line = 1, line_start = 0;  // current line; where it starts in res.text
  bool collecting = true;
  char last_char = '\n';
  while (n > 0) {
    std::string_view chunk(buf.data(), n);
    last_char = chunk.back();
    while (!chunk.empty()) {
      const void* nl = std::memchr(chunk.data(), '\n', chunk.size());
      const std::size_t len = nl ? static_cast<const char*>(nl) - chunk.data() + 1 : chunk.size();
      if (collecting && line >= from && line <= to) {
        if (res.text.size() + len <= cap) {
          res.text.append(chunk.data(), len);
        } else {
          collecting = false;
          res.truncated = true;
          if (line_start > 0) {  // keep whole lines
            res.text.resize(line_start);
            res.last_line = line - 1;
          } else {  // the first line alone is too long: keep its start
            res.text.append(chunk.data(), cap - res.text.size());
            drop_partial_utf8(res.text);
            res.last_line = line;
          }
        }
      }
      if (nl) {
        ++line;
        if (collecting) line_start = res.text.size();
      }
      chunk.remove_prefix(len);
    }
    n = read_full(fd.get(), buf.data(), buf.size(), what);
  }
  res.total_lines = last_char == '\n' ? line - 1 : line;
  if (res.total_lines == 0) return res;
  if (from > res.total_lines)
    invalid("line range starts at line " + std::to_string(from) + " but " + q(path) + " has " +
            std::to_string(res.total_lines) + " lines");
  res.first_line = from;
  if (!res.truncated) res.last_line = std::min(to, res.total_lines);
  return res;
}

void Workspace::write(std::string_view path, std::string_view content) {
  const Impl& I = *impl_;
  if (content.size() > I.opts.max_write_bytes)
    invalid("content for " + q(path) + " is " + std::to_string(content.size()) + " bytes, above the write limit of " +
            std::to_string(I.opts.max_write_bytes));
  const auto r = I.resolve(path, true);
  Impl::atomic_write(r.real, content, Impl::prepare_target(r.real, path));
}

void Workspace::append(std::string_view path, std::string_view content) {
  const Impl& I = *impl_;
  if (content.size() > I.opts.max_write_bytes)
    invalid("content for " + q(path) + " is " + std::to_string(content.size()) + " bytes, above the write limit of " +
            std::to_string(I.opts.max_write_bytes));
  const auto r = I.resolve(path, true);
  Impl::prepare_target(r.real, path);
  Fd fd = open_fd(r.real, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0666);
  if (!fd) fail_io("opening " + q(path));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) fail_io("appending to " + q(path));
  if (!S_ISREG(st.st_mode)) invalid(q(path) + " is not a regular file");
  // A hard link could be another name of a file outside the workspace; writing in place through
  // it would change that file (write/edit replace the name instead, so they are safe).
  if (st.st_nlink > 1)
    invalid("refusing to append to " + q(path) + ": it has " + std::to_string(st.st_nlink) + " hard links");
  write_all(fd.get(), content, q(path));
  fd.close(q(path));
}

void Workspace::copy(std::string_view from, std::string_view to) {
  const Impl& I = *impl_;
  const auto src = I.resolve(from, false);
  struct stat st;
  if (::stat(src.real.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) throw Error(errc::not_found, q(from) + " does not exist");
    fail_io("copying " + q(from));
  }
  const auto dst = I.resolve(to, true);
  if (!S_ISDIR(st.st_mode)) return Impl::copy_file(src.real, dst.real, from, to);

  const std::string& s = src.real.native();
  const std::string& d = dst.real.native();
  if (d == s || (d.size() > s.size() && d.compare(0, s.size(), s) == 0 && d[s.size()] == '/'))
    invalid("cannot copy directory " + q(from) + " into itself (" + q(to) + ")");
  std::error_code ec;
  fs::create_directories(dst.real, ec);
  if (ec) throw Error(errc::io, "creating " + q(to) + ": " + ec.message());
  // Each child goes through copy() again, so every source and destination path is checked.
  for (const auto& name : dir_names(src.real)) {
    struct stat ls, ts;
    if (::lstat((src.real / name).c_str(), &ls) != 0) continue;
    // Symlinked directories are not followed: a link to a parent would copy forever.
    if (S_ISLNK(ls.st_mode) && (::stat((src.real / name).c_str(), &ts) != 0 || S_ISDIR(ts.st_mode))) continue;
    if (!S_ISDIR(ls.st_mode) && !S_ISREG(ls.st_mode) && !S_ISLNK(ls.st_mode)) continue;
    copy(join_rel(src.rel, name), join_rel(dst.rel, name));
  }
}

EditResult Workspace::edit(std::string_view path, std::string_view old_text, std::string_view new_text, bool replace_all) {
  const Impl& I = *impl_;
  if (old_text.empty()) invalid("text to replace in " + q(path) + " is empty");
  const auto r = I.resolve(path, true);
  struct stat st;
  Fd fd = Impl::open_regular(r.real, path, st);
  if (static_cast<std::uint64_t>(st.st_size) > I.opts.max_write_bytes)
    invalid(q(path) + " is " + std::to_string(st.st_size) + " bytes, above the edit limit of " + std::to_string(I.opts.max_write_bytes));
  const std::string before = read_fd(fd.get(), static_cast<std::size_t>(st.st_size), q(path));
  fd = Fd();
  if (looks_binary(before)) invalid(q(path) + " is a binary file");

  std::size_t count = 0;
  for (std::size_t p = before.find(old_text); p != std::string::npos; p = before.find(old_text, p + old_text.size())) ++count;
  if (count == 0) invalid("text to replace not found in " + q(path));
  if (count > 1 && !replace_all)
    invalid("text to replace occurs " + std::to_string(count) + " times in " + q(path) +
            "; include more surrounding text to make it unique, or replace all occurrences");

  std::string after;
  after.reserve(before.size() + count * new_text.size());
  std::size_t pos = 0;
  for (std::size_t p = before.find(old_text); p != std::string::npos; p = before.find(old_text, pos)) {
    after.append(before, pos, p - pos).append(new_text);
    pos = p + old_text.size();
  }
  after.append(before, pos);
  if (after.size() > I.opts.max_write_bytes)
    invalid("editing " + q(path) + " would make it " + std::to_string(after.size()) + " bytes, above the write limit");
  if (after != before) Impl::atomic_write(r.real, after, st.st_mode & 07777);
  return {diff_text(path, before, after), count};
}

std::string Workspace::diff_text(std::string_view path, std::string_view before, std::string_view after) const {
  return detail::unified_diff(before, after, "a/" + std::string(path), "b/" + std::string(path), 3);
}

// --- snapshots ---------------------------------------------------------------------------------

SnapshotInfo Workspace::snapshot(std::string label) {
  Impl& I = *impl_;
  I.need_store();
  const auto t0 = std::chrono::steady_clock::now();
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);

  const auto ids = I.index_ids();
  if (!ids.empty() && (!I.last || I.last->id != ids.back())) I.last = I.load_manifest(ids.back());
  const Manifest* prev = ids.empty() ? nullptr : &*I.last;

  ScanStats stats;
  Manifest m;
  m.label = std::move(label);
  m.parent = prev ? prev->id : std::string();
  m.time_ns = ns_of(now);
  m.files = I.scan(prev, true, stats);

  SnapshotInfo info;
  info.files = m.files.size();
  for (const auto& e : m.files) info.bytes += e.size;
  static const std::vector<Entry> none;
  merge_walk(prev ? prev->files : none, m.files, [&](const Entry* a, const Entry* b) {
    if (!a || !b || !a->same(*b)) ++info.changed_files;
  });

  const std::string text = to_text(m);
  m.id = sha256_hex(text);
  TempFile t(I.store / "snapshots", m.id.substr(0, 12), 0644);
  write_all(t.fd(), text, t.path().string());
  t.commit(I.manifest_path(m.id), I.opts.fsync);

  // The index line makes the snapshot visible: appended in one write, after the manifest (and
  // the blobs before it) are in place. The fsync also commits the journal holding their renames.
  boost::json::object line;
  line["id"] = m.id;
  line["label"] = m.label;
  line["time_ns"] = m.time_ns;
  const std::string entry = boost::json::serialize(line) + "\n";
  Fd idx = open_fd(I.index_path(), O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (!idx) fail_io("opening " + I.index_path().string());
  if (::write(idx.get(), entry.data(), entry.size()) != static_cast<ssize_t>(entry.size()))
    fail_io("appending to " + I.index_path().string());
  if (I.opts.fsync && ::fsync(idx.get()) != 0) fail_io("syncing " + I.index_path().string());
  idx.close(I.index_path().string());

  info.id = m.id;
  info.stored_bytes = stats.stored;
  info.hashed_bytes = stats.hashed;
  info.manifest_bytes = text.size();
  I.last = std::move(m);
  info.took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
  return info;
}

std::vector<std::string> Workspace::snapshots() const { return impl_->index_ids(); }

std::vector<FileChange> Workspace::diff(const std::string& from_id, const std::string& to_id) const {
  const Impl& I = *impl_;
  const Manifest a = I.load_manifest(I.find_id(from_id));
  const bool working = to_id.empty();
  Manifest b;
  if (working) {
    const auto cache = I.newest();
    ScanStats s;
    b.files = I.scan(cache ? &*cache : &a, false, s);
  } else {
    b = I.load_manifest(I.find_id(to_id));
  }

  std::vector<FileChange> out;
  merge_walk(a.files, b.files, [&](const Entry* ea, const Entry* eb) {
    if (ea && eb && ea->same(*eb)) return;
    FileChange c;
    c.path = ea ? ea->path : eb->path;
    c.kind = !ea ? FileChange::added : !eb ? FileChange::removed : FileChange::modified;
    c.large = (ea && ea->large) || (eb && eb->large);
    const bool link = (ea && ea->is_link) || (eb && eb->is_link);
    const bool too_big = (ea && ea->size > I.opts.max_diff_bytes) || (eb && eb->size > I.opts.max_diff_bytes);
    if (!c.large && !link && !too_big && !(ea && eb && ea->same_content(*eb))) {
      const std::string ta = ea ? I.content(*ea, false) : std::string();
      const std::string tb = eb ? I.content(*eb, working) : std::string();
      c.binary = looks_binary(ta) || looks_binary(tb);
      if (!c.binary)
        c.diff = detail::unified_diff(ta, tb, ea ? "a/" + c.path : "/dev/null", eb ? "b/" + c.path : "/dev/null");
    }
    out.push_back(std::move(c));
  });
  return out;
}

std::string Workspace::undo(std::string_view path) {
  Impl& I = *impl_;
  I.need_store();
  const auto r = I.resolve(path, true);
  const std::string& rel = r.real_rel;
  if (I.ignored(rel)) invalid(q(path) + " is ignored by snapshots: there is nothing to undo");
  const std::string now = I.state_now(r.real, path);
  const auto ids = I.index_ids();

  // Continue below the snapshot used by the previous undo of this path if the file still holds
  // what that undo put there; otherwise start from the newest snapshot.
  std::size_t i = ids.size();
  if (auto c = I.cursors.find(rel); c != I.cursors.end() && c->second.state == now && c->second.index < ids.size())
    i = c->second.index;
  while (i-- > 0) {
    const Manifest m = I.load_manifest(ids[i]);
    const Entry* e = m.find(rel);
    const std::string then = e ? e->state() : std::string();
    if (then == now) continue;
    if (e && e->large && !e->is_link)
      throw Error(errc::not_found, "cannot undo " + q(path) + ": its content in snapshot " + ids[i].substr(0, 12) +
                                       " is a large file, which snapshots do not store");
    I.put_back(r.real, e, path);
    I.cursors[rel] = {i, then};
    return ids[i];
  }
  throw Error(errc::not_found, "nothing to undo for " + q(path) + ": no snapshot holds different content");
}

void Workspace::restore(const std::string& id) {
  Impl& I = *impl_;
  const Manifest m = I.load_manifest(I.find_id(id));
  const auto cache = I.newest();
  ScanStats s;
  const auto current = I.scan(cache ? &*cache : &m, false, s);

  // Plan, and check that every content is available, before changing anything.
  std::vector<const Entry*> remove, put, chmod_only;
  merge_walk(current, m.files, [&](const Entry* c, const Entry* e) {
    const std::string& path = c ? c->path : e->path;
    if (covering(I.read_only, path) || (e && I.ignored(path))) return;
    if (!e) return remove.push_back(c);
    if (c && c->same(*e)) return;
    if (c && !e->is_link && c->same_content(*e)) return chmod_only.push_back(e);
    if (e->is_link) return put.push_back(e);
    if (e->large)
      throw Error(errc::not_found, "cannot restore " + q(path) + ": it is a large file whose content in snapshot " +
                                       m.id.substr(0, 12) + " is not stored and differs from the workspace copy");
    if (!I.has_object(e->hash)) throw Error(errc::not_found, "content of " + q(path) + " is missing from the store");
    put.push_back(e);
  });

  for (const Entry* c : remove) I.put_back(I.root / c->path, nullptr, c->path);
  for (const Entry* e : chmod_only)
    if (::chmod((I.root / e->path).c_str(), e->mode) != 0) fail_io("setting the mode of " + q(e->path));
  for (const Entry* e : put) I.put_back(I.locate_entry(e->path), e, e->path);
  I.cursors.clear();
}

void Workspace::checkout(const std::string& id, const fs::path& dest) const {
  const Impl& I = *impl_;
  const Manifest m = I.load_manifest(I.find_id(id));
  std::error_code ec;
  if (fs::exists(dest, ec) && (!fs::is_directory(dest, ec) || !fs::is_empty(dest, ec)))
    invalid("checkout destination " + q(dest.string()) + " is not an empty directory");
  // Large files come from the workspace: make sure they all still match before writing anything.
  for (const auto& e : m.files)
    if (e.large && !e.is_link && !I.large_still_matches(e, m))
      throw Error(errc::not_found, "cannot check out " + q(e.path) + ": it is a large file, not stored, and the workspace copy has changed since snapshot " +
                                       m.id.substr(0, 12));
  fs::create_directories(dest, ec);
  if (ec) throw Error(errc::io, "creating " + q(dest.string()) + ": " + ec.message());

  for (const auto& e : m.files) {
    const fs::path p = dest / e.path;
    fs::create_directories(p.parent_path(), ec);
    if (ec) throw Error(errc::io, "creating " + q(p.parent_path().string()) + ": " + ec.message());
    if (e.is_link) {
      if (::symlink(e.target.c_str(), p.c_str()) != 0) fail_io("creating symlink " + p.string());
      continue;
    }
    const fs::path src = e.large ? I.root / e.path : I.object_path(e.hash);
    Fd in = open_fd(src, O_RDONLY | O_NOFOLLOW);
    if (!in) {
      if (errno == ENOENT) throw Error(errc::not_found, "content of " + q(e.path) + " is missing from the store");
      fail_io("reading " + src.string());
    }
    Fd out = open_fd(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    if (!out) fail_io("creating " + p.string());
    clone_or_copy(in.get(), out.get(), q(e.path));
    if (::fchmod(out.get(), e.mode) != 0) fail_io("setting the mode of " + p.string());
    out.close(p.string());
  }
}

}  // namespace v1
}  // namespace mlrc
