// Workspace: confinement, read-only patterns, file tools, and snapshots, on real temp directories.
// The line diff is tested directly (sans-io) against a dynamic-programming LCS.

#include <catch2/catch.hpp>

#include "temp_dir.hpp"

#include <mlrcopilot/workspace.hpp>

#include "workspace/diff.hpp"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <stdlib.h>
#include <sys/stat.h>

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using mlrc::errc;
using mlrc::FileChange;
using mlrc::Workspace;
using mlrc::WorkspaceOptions;

namespace {

using mlrc::test::TempDir;

// Writes a file behind the workspace's back (in place, as a program would).
void put(const fs::path& p, std::string_view s) {
  fs::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(s.data(), static_cast<std::streamsize>(s.size()));
  REQUIRE(f.good());
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  REQUIRE(f.good());
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::uint64_t tree_bytes(const fs::path& dir) {
  std::uint64_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) n += e.file_size();
  return n;
}

unsigned mode_of(const fs::path& p) { return static_cast<unsigned>(fs::status(p).permissions()) & 07777; }

ino_t inode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_ino;
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> v;
  for (const auto& e : fs::directory_iterator(dir)) v.push_back(e.path().filename().string());
  std::sort(v.begin(), v.end());
  return v;
}

// The mlrc::Error that f throws; fails the test when it throws none.
template <class F>
mlrc::Error error_of(F&& f) {
  try {
    f();
  } catch (const mlrc::Error& e) {
    return e;
  }
  FAIL("expected an mlrc::Error");
  throw std::logic_error("unreachable");
}

struct Fixture {
  TempDir tmp;
  fs::path root = tmp.path / "ws";
  fs::path store = tmp.path / "store";
  Fixture() { fs::create_directories(root); }
  WorkspaceOptions opts() const {
    WorkspaceOptions o;
    o.store = store;
    o.fsync = false;  // the tests check logic, not durability
    return o;
  }
};

// File timestamps are coarse: the stat cache trusts a file only once its mtime is clearly older
// than the snapshot that recorded it. Tests that check the cache wait this long first.
void let_timestamps_settle() { std::this_thread::sleep_for(std::chrono::milliseconds(100)); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Confinement

TEST_CASE_METHOD(Fixture, "workspace: paths that leave the root are refused", "[workspace]") {
  Workspace ws(root);
  CHECK(ws.root() == fs::canonical(root));
  put(tmp.path / "outside.txt", "secret");

  auto e = error_of([&] { ws.write("../x", "y"); });
  CHECK(e.code_enum() == errc::invalid_argument);
  CHECK(std::string(e.what()) == "path '../x' leaves the workspace");
  CHECK_FALSE(fs::exists(tmp.path / "x"));
  CHECK(error_of([&] { ws.read("a/../../outside.txt"); }).code_enum() == errc::invalid_argument);

  e = error_of([&] { ws.read("/etc/passwd"); });
  CHECK(e.code_enum() == errc::invalid_argument);
  CHECK_THAT(std::string(e.what()), Contains("absolute"));
  CHECK(error_of([&] { ws.read(""); }).code_enum() == errc::invalid_argument);

  // Lexical '..' that stays inside is fine; so is a file that does not exist yet.
  CHECK(ws.resolve("a/../b.txt", false) == ws.root() / "b.txt");
  CHECK(ws.resolve("new/deep/file.txt", true) == ws.root() / "new/deep/file.txt");

  SECTION("a symlink as the last component") {
    fs::create_symlink(tmp.path / "outside.txt", root / "out.txt");
    e = error_of([&] { ws.read("out.txt"); });
    CHECK(e.code_enum() == errc::invalid_argument);
    CHECK_THAT(std::string(e.what()), Contains("leaves the workspace") && Contains("out.txt"));
    CHECK(error_of([&] { ws.write("out.txt", "pwned"); }).code_enum() == errc::invalid_argument);
    CHECK(error_of([&] { ws.append("out.txt", "pwned"); }).code_enum() == errc::invalid_argument);
    CHECK(slurp(tmp.path / "outside.txt") == "secret");
  }
  SECTION("a dangling symlink") {
    fs::create_symlink(tmp.path / "not-yet", root / "dangling");
    CHECK(error_of([&] { ws.write("dangling", "x"); }).code_enum() == errc::invalid_argument);
    CHECK_FALSE(fs::exists(tmp.path / "not-yet"));
  }
  SECTION("a symlink in a parent component (relative target)") {
    fs::create_directories(tmp.path / "outdir");
    fs::create_directory_symlink("../outdir", root / "od");
    CHECK(error_of([&] { ws.write("od/f.txt", "x"); }).code_enum() == errc::invalid_argument);
    CHECK(error_of([&] { ws.list("od"); }).code_enum() == errc::invalid_argument);
    CHECK_FALSE(fs::exists(tmp.path / "outdir/f.txt"));
  }
  SECTION("a chain of symlinks that ends outside") {
    fs::create_symlink("l2", root / "l1");
    fs::create_symlink("/etc", root / "l2");
    CHECK(error_of([&] { ws.read("l1/passwd"); }).code_enum() == errc::invalid_argument);
  }
  SECTION("a symlink loop") {
    fs::create_symlink("loop", root / "loop");
    e = error_of([&] { ws.read("loop"); });
    CHECK(e.code_enum() == errc::invalid_argument);
    CHECK_THAT(std::string(e.what()), Contains("symbolic links"));
  }
  SECTION("a symlink that stays inside is followed") {
    fs::create_directories(root / "real");
    fs::create_directory_symlink("real", root / "alias");
    ws.write("alias/f.txt", "ok");
    CHECK(slurp(root / "real/f.txt") == "ok");
    CHECK(ws.resolve("alias/f.txt", false) == ws.root() / "real/f.txt");
    CHECK(ws.read("alias/f.txt").text == "ok");
  }
}

TEST_CASE_METHOD(Fixture, "workspace: read-only patterns block writes, not reads", "[workspace]") {
  WorkspaceOptions o;
  o.read_only = {"data/*.csv", "eval.py", "frozen"};
  Workspace ws(root, o);
  put(root / "data/train.csv", "a,b\n1,2\n");
  put(root / "data/notes.txt", "notes\n");
  put(root / "eval.py", "print(1)\n");
  put(root / "frozen/x.txt", "x\n");

  auto e = error_of([&] { ws.write("data/train.csv", "hacked"); });
  CHECK(e.code_enum() == errc::invalid_argument);
  CHECK(std::string(e.what()) == "path 'data/train.csv' is read-only (pattern 'data/*.csv')");
  CHECK(error_of([&] { ws.append("eval.py", "x"); }).code_enum() == errc::invalid_argument);
  CHECK(error_of([&] { ws.edit("eval.py", "1", "2"); }).code_enum() == errc::invalid_argument);
  CHECK(error_of([&] { ws.copy("data/notes.txt", "data/new.csv"); }).code_enum() == errc::invalid_argument);
  CHECK(error_of([&] { ws.write("frozen/new.txt", "x"); }).code_enum() == errc::invalid_argument);  // parent covered
  fs::create_symlink("eval.py", root / "alias.py");
  CHECK(error_of([&] { ws.write("alias.py", "x"); }).code_enum() == errc::invalid_argument);  // no detour
  CHECK(slurp(root / "eval.py") == "print(1)\n");
  CHECK(slurp(root / "data/train.csv") == "a,b\n1,2\n");
  CHECK_FALSE(fs::exists(root / "data/new.csv"));

  CHECK(ws.read("data/train.csv").text == "a,b\n1,2\n");
  ws.write("data/notes.txt", "ok");  // not covered: *.csv only
  ws.copy("data/train.csv", "copy.csv");
  CHECK(slurp(root / "copy.csv") == "a,b\n1,2\n");

  const auto entries = ws.list(".", true);
  auto ro = [&](const std::string& p) {
    auto it = std::find_if(entries.begin(), entries.end(), [&](const mlrc::FileEntry& f) { return f.path == p; });
    REQUIRE(it != entries.end());
    return it->read_only;
  };
  CHECK(ro("data/train.csv"));
  CHECK(ro("eval.py"));
  CHECK(ro("frozen/x.txt"));
  CHECK_FALSE(ro("copy.csv"));
  CHECK_FALSE(ro("data/notes.txt"));

  WorkspaceOptions deep;
  deep.read_only = {"**/*.bin"};
  Workspace ws2(root, deep);
  CHECK(error_of([&] { ws2.write("a/b/c.bin", "x"); }).code_enum() == errc::invalid_argument);
  CHECK(error_of([&] { ws2.write("c.bin", "x"); }).code_enum() == errc::invalid_argument);  // ** = no segment too
  ws2.write("c.txt", "x");

  WorkspaceOptions bad;
  bad.read_only = {"../x"};
  CHECK(error_of([&] { Workspace w(root, bad); }).code_enum() == errc::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// File tools

TEST_CASE_METHOD(Fixture, "workspace: list is sorted and skips ignored paths", "[workspace]") {
  Workspace ws(root);
  put(root / "b.txt", "bb");
  put(root / "a/x.txt", "x");
  put(root / "a/y/z.txt", "z");
  put(root / ".git/HEAD", "ref");
  put(root / "__pycache__/m.pyc", "c");
  put(root / "a/__pycache__/n.pyc", "c");
  fs::create_symlink("b.txt", root / "l.txt");

  auto paths = [](const std::vector<mlrc::FileEntry>& v) {
    std::vector<std::string> p;
    for (const auto& e : v) p.push_back(e.path);
    return p;
  };
  const auto top = ws.list();
  CHECK(paths(top) == std::vector<std::string>{"a", "b.txt", "l.txt"});
  CHECK(top[0].is_dir);
  CHECK_FALSE(top[1].is_dir);
  CHECK(top[1].size == 2);
  CHECK(top[2].symlink);
  CHECK(top[2].size == 2);
  CHECK(paths(ws.list(".", true)) == std::vector<std::string>{"a", "a/x.txt", "a/y", "a/y/z.txt", "b.txt", "l.txt"});
  CHECK(paths(ws.list("a")) == std::vector<std::string>{"a/x.txt", "a/y"});
  CHECK(error_of([&] { ws.list("b.txt"); }).code_enum() == errc::invalid_argument);
  CHECK(error_of([&] { ws.list("nope"); }).code_enum() == errc::not_found);
}

TEST_CASE_METHOD(Fixture, "workspace: read takes line ranges, caps size, detects binary", "[workspace]") {
  WorkspaceOptions o;
  o.max_read_bytes = 30;
  Workspace ws(root, o);
  std::string ten;
  for (int i = 1; i <= 10; ++i) ten += "line " + std::to_string(i) + "\n";
  put(root / "f.txt", ten);

  auto r = ws.read("f.txt", 3, 5);
  CHECK(r.text == "line 3\nline 4\nline 5\n");
  CHECK(r.first_line == 3);
  CHECK(r.last_line == 5);
  CHECK(r.total_lines == 10);
  CHECK_FALSE(r.truncated);
  CHECK_FALSE(r.binary);
  CHECK(r.size == ten.size());

  r = ws.read("f.txt", 9);
  CHECK(r.text == "line 9\nline 10\n");
  CHECK(r.last_line == 10);
  CHECK(ws.read("f.txt", 10, 100).last_line == 10);  // clamped to the end

  r = ws.read("f.txt");  // 71 bytes, cap 30: the whole lines that fit
  CHECK(r.text == "line 1\nline 2\nline 3\nline 4\n");
  CHECK(r.truncated);
  CHECK(r.first_line == 1);
  CHECK(r.last_line == 4);
  CHECK(r.total_lines == 10);

  CHECK(error_of([&] { ws.read("f.txt", 11); }).code_enum() == errc::invalid_argument);
  CHECK(error_of([&] { ws.read("f.txt", 5, 3); }).code_enum() == errc::invalid_argument);
  CHECK(error_of([&] { ws.read("missing.txt"); }).code_enum() == errc::not_found);
  fs::create_directories(root / "dir");
  CHECK(error_of([&] { ws.read("dir"); }).code_enum() == errc::invalid_argument);

  put(root / "nonl.txt", "a\nb");
  r = ws.read("nonl.txt");
  CHECK(r.total_lines == 2);
  CHECK(r.text == "a\nb");

  put(root / "long.txt", std::string(100, 'x'));  // one line over the cap: its start comes back
  r = ws.read("long.txt");
  CHECK(r.text == std::string(30, 'x'));
  CHECK(r.truncated);
  CHECK(r.last_line == 1);

  std::string e_acute;
  for (int i = 0; i < 30; ++i) e_acute += "\xC3\xA9";  // "é" x30: the cap falls inside a character
  put(root / "utf8.txt", e_acute);
  o.max_read_bytes = 21;
  Workspace ws21(root, o);
  CHECK(ws21.read("utf8.txt").text == e_acute.substr(0, 20));

  put(root / "empty.txt", "");
  r = ws.read("empty.txt");
  CHECK(r.total_lines == 0);
  CHECK(r.text.empty());

  put(root / "nul.bin", std::string("abc\0def", 7));
  r = ws.read("nul.bin");
  CHECK(r.binary);
  CHECK(r.text.empty());
  CHECK(r.size == 7);
  put(root / "latin1.txt", "caf\xE9\n");  // invalid UTF-8
  CHECK(ws.read("latin1.txt").binary);
  put(root / "utf8ok.txt", "caf\xC3\xA9 \xE2\x9C\x93\n");
  CHECK_FALSE(ws.read("utf8ok.txt").binary);
  put(root / "late-nul.txt", std::string(9000, 'a') + std::string(1, '\0'));  // only 8 KiB are inspected
  CHECK_FALSE(ws.read("late-nul.txt").binary);
}

TEST_CASE_METHOD(Fixture, "workspace: write is atomic and keeps the mode, and append", "[workspace]") {
  WorkspaceOptions o;
  o.max_write_bytes = 10;
  Workspace ws(root, o);

  ws.write("a/b/c.txt", "hello");
  CHECK(slurp(root / "a/b/c.txt") == "hello");

  // A reader that opened the old file keeps reading the old file: the new one was renamed over it.
  put(root / "f.txt", "old text");
  std::ifstream reader(root / "f.txt", std::ios::binary);
  const ino_t before = inode_of(root / "f.txt");
  ws.write("f.txt", "new");
  CHECK(slurp(root / "f.txt") == "new");
  CHECK(std::string(std::istreambuf_iterator<char>(reader), {}) == "old text");
  CHECK(inode_of(root / "f.txt") != before);
  CHECK(names_in(root) == std::vector<std::string>{"a", "f.txt"});  // no temporary left behind

  put(root / "run.sh", "#!/bin/sh\n");
  fs::permissions(root / "run.sh", static_cast<fs::perms>(0755), fs::perm_options::replace);
  ws.write("run.sh", "echo hi\n");
  CHECK(mode_of(root / "run.sh") == 0755);

  CHECK(error_of([&] { ws.write("big.txt", std::string(11, 'x')); }).code_enum() == errc::invalid_argument);
  CHECK(error_of([&] { ws.append("big.txt", std::string(11, 'x')); }).code_enum() == errc::invalid_argument);
  CHECK_FALSE(fs::exists(root / "big.txt"));
  CHECK(error_of([&] { ws.write("a/b", "x"); }).code_enum() == errc::invalid_argument);  // a directory
  CHECK(error_of([&] { ws.write(".", "x"); }).code_enum() == errc::invalid_argument);

  ws.append("logs/run.log", "a\n");
  ws.append("logs/run.log", "b\n");
  CHECK(slurp(root / "logs/run.log") == "a\nb\n");

  // A hard link may be another name of a file outside: appending in place would change it.
  put(tmp.path / "outside.txt", "secret");
  fs::create_hard_link(tmp.path / "outside.txt", root / "hl.txt");
  CHECK(error_of([&] { ws.append("hl.txt", "x"); }).code_enum() == errc::invalid_argument);
  CHECK(slurp(tmp.path / "outside.txt") == "secret");
  ws.write("hl.txt", "mine");  // replaces the name, not the shared file
  CHECK(slurp(tmp.path / "outside.txt") == "secret");
}

TEST_CASE_METHOD(Fixture, "workspace: copy files and directories", "[workspace]") {
  Workspace ws(root);
  put(root / "src/a.txt", "A");
  put(root / "src/sub/b.txt", "B");
  fs::permissions(root / "src/a.txt", static_cast<fs::perms>(0700), fs::perm_options::replace);

  ws.copy("src/a.txt", "one.txt");
  CHECK(slurp(root / "one.txt") == "A");
  CHECK(mode_of(root / "one.txt") == 0700);

  ws.copy("src", "dst");
  CHECK(slurp(root / "dst/a.txt") == "A");
  CHECK(slurp(root / "dst/sub/b.txt") == "B");

  CHECK(error_of([&] { ws.copy("src", "src/inner"); }).code_enum() == errc::invalid_argument);
  CHECK(error_of([&] { ws.copy("nope", "x"); }).code_enum() == errc::not_found);
  CHECK(error_of([&] { ws.copy("src/a.txt", "dst"); }).code_enum() == errc::invalid_argument);  // onto a directory
}

TEST_CASE_METHOD(Fixture, "workspace: edit replaces exact text", "[workspace]") {
  Workspace ws(root);
  put(root / "m.py", "x = 1\ny = 2\nx = 1\n");

  auto r = ws.edit("m.py", "y = 2", "y = 3");
  CHECK(r.replacements == 1);
  CHECK(slurp(root / "m.py") == "x = 1\ny = 3\nx = 1\n");
  CHECK(r.diff ==
        "--- a/m.py\n"
        "+++ b/m.py\n"
        "@@ -1,3 +1,3 @@\n"
        " x = 1\n"
        "-y = 2\n"
        "+y = 3\n"
        " x = 1\n");

  auto e = error_of([&] { ws.edit("m.py", "z = 0", "w"); });
  CHECK(e.code_enum() == errc::invalid_argument);
  CHECK(std::string(e.what()) == "text to replace not found in 'm.py'");
  e = error_of([&] { ws.edit("m.py", "x = 1", "x = 9"); });
  CHECK(e.code_enum() == errc::invalid_argument);
  CHECK_THAT(std::string(e.what()), Contains("2 times"));
  CHECK(slurp(root / "m.py") == "x = 1\ny = 3\nx = 1\n");

  r = ws.edit("m.py", "x = 1", "x = 9", true);
  CHECK(r.replacements == 2);
  CHECK(slurp(root / "m.py") == "x = 9\ny = 3\nx = 9\n");

  CHECK(error_of([&] { ws.edit("m.py", "", "x"); }).code_enum() == errc::invalid_argument);
  CHECK(error_of([&] { ws.edit("none.py", "a", "b"); }).code_enum() == errc::not_found);
  put(root / "blob.bin", std::string("a\0b", 3));
  CHECK(error_of([&] { ws.edit("blob.bin", "a", "c"); }).code_enum() == errc::invalid_argument);
}

TEST_CASE("workspace: diff_text prints GNU unified hunks", "[workspace]") {
  TempDir tmp;
  Workspace ws(tmp.path);
  const std::string before = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n";
  const std::string after = "one\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\ntwelve";
  CHECK(ws.diff_text("n.txt", before, after) ==
        "--- a/n.txt\n"
        "+++ b/n.txt\n"
        "@@ -1,4 +1,4 @@\n"
        "-1\n"
        "+one\n"
        " 2\n"
        " 3\n"
        " 4\n"
        "@@ -9,4 +9,4 @@\n"
        " 9\n"
        " 10\n"
        " 11\n"
        "-12\n"
        "+twelve\n"
        "\\ No newline at end of file\n");
  CHECK(ws.diff_text("x", "", "a\n") == "--- a/x\n+++ b/x\n@@ -0,0 +1 @@\n+a\n");
  CHECK(ws.diff_text("x", before, before).empty());
}

// ---------------------------------------------------------------------------------------------
// The line diff itself

namespace {
std::size_t lcs(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b) {
  std::vector<std::vector<std::size_t>> dp(a.size() + 1, std::vector<std::size_t>(b.size() + 1, 0));
  for (std::size_t i = a.size(); i-- > 0;)
    for (std::size_t j = b.size(); j-- > 0;)
      dp[i][j] = a[i] == b[j] ? dp[i + 1][j + 1] + 1 : std::max(dp[i + 1][j], dp[i][j + 1]);
  return dp[0][0];
}

// Checks that ops turn a into b; returns the number of edits.
std::size_t check_script(const std::vector<mlrc::detail::DiffOp>& ops, const std::vector<std::string_view>& a,
                         const std::vector<std::string_view>& b) {
  using mlrc::detail::DiffOp;
  std::vector<std::string_view> rebuilt, kept;
  std::size_t edits = 0;
  for (const auto& op : ops) {
    if (op.kind == DiffOp::equal) REQUIRE(a[op.a] == b[op.b]);
    if (op.kind != DiffOp::insert) kept.push_back(a[op.a]);
    if (op.kind != DiffOp::remove) rebuilt.push_back(op.kind == DiffOp::equal ? a[op.a] : b[op.b]);
    if (op.kind != DiffOp::equal) ++edits;
  }
  REQUIRE(kept == a);
  REQUIRE(rebuilt == b);
  return edits;
}
}  // namespace

TEST_CASE("diff: Myers finds a shortest edit script", "[workspace][diff]") {
  using mlrc::detail::diff_lines;
  auto chars = [](std::string_view s) {
    std::vector<std::string_view> v;
    for (std::size_t i = 0; i < s.size(); ++i) v.push_back(s.substr(i, 1));
    return v;
  };
  // The example of Myers' paper: ABCABBA -> CBABAC takes 5 edits.
  const auto a = chars("ABCABBA"), b = chars("CBABAC");
  CHECK(check_script(diff_lines(a, b), a, b) == 5);
  CHECK(check_script(diff_lines({}, b), {}, b) == b.size());
  CHECK(check_script(diff_lines(a, {}), a, {}) == a.size());

  std::mt19937 rng(42);
  const std::vector<std::string> alphabet = {"w\n", "x\n", "y\n", "z\n", "z"};
  for (int round = 0; round < 400; ++round) {
    std::vector<std::string_view> x, y;
    const std::size_t k = 2 + rng() % 3;
    for (std::size_t i = rng() % 40; i-- > 0;) x.push_back(alphabet[rng() % k]);
    for (std::size_t i = rng() % 40; i-- > 0;) y.push_back(alphabet[rng() % k]);
    INFO("round " << round);
    CHECK(check_script(diff_lines(x, y), x, y) == x.size() + y.size() - 2 * lcs(x, y));
    check_script(diff_lines(x, y, 1), x, y);  // giving up early stays correct
  }
}

// ---------------------------------------------------------------------------------------------
// Snapshots

TEST_CASE_METHOD(Fixture, "workspace: snapshots store only what changed", "[workspace][snapshot]") {
  Workspace ws(root, opts());
  put(root / "a.py", std::string(1000, 'a'));
  put(root / "b.py", std::string(300, 'b'));
  put(root / "data/c.txt", "c\n");
  put(root / ".git/HEAD", "ignored");
  let_timestamps_settle();

  const auto s1 = ws.snapshot("first");
  CHECK(s1.id.size() == 64);
  CHECK(s1.files == 3);
  CHECK(s1.bytes == 1302);
  CHECK(s1.changed_files == 3);
  CHECK(s1.stored_bytes == 1302);
  CHECK(s1.hashed_bytes == 1302);

  const auto s2 = ws.snapshot();
  CHECK(s2.id != s1.id);
  CHECK(s2.changed_files == 0);
  CHECK(s2.stored_bytes == 0);
  CHECK(s2.hashed_bytes == 0);  // the stat cache vouched for every file

  ws.write("a.py", std::string(1000, 'A'));
  const auto s3 = ws.snapshot();
  CHECK(s3.changed_files == 1);
  CHECK(s3.stored_bytes == 1000);

  let_timestamps_settle();
  put(root / "b.py", std::string(300, 'B'));  // in place, same size: mtime gives it away
  const auto s4 = ws.snapshot();
  CHECK(s4.changed_files == 1);
  CHECK(s4.stored_bytes == 300);

  ws.write("a.py", std::string(1000, 'a'));  // back to known content: nothing new to store
  const auto s5 = ws.snapshot();
  CHECK(s5.changed_files == 1);
  CHECK(s5.stored_bytes == 0);

  CHECK(ws.snapshots() == std::vector<std::string>{s1.id, s2.id, s3.id, s4.id, s5.id});
}

TEST_CASE_METHOD(Fixture, "workspace: large files are hashed, never copied into the store", "[workspace][snapshot]") {
  auto o = opts();
  o.large_file_bytes = 1u << 20;
  Workspace ws(root, o);
  {
    std::ofstream f(root / "big.bin", std::ios::binary);
    std::string block(1u << 20, '\0');
    for (unsigned i = 0; i < 40; ++i) {
      for (std::size_t j = 0; j < block.size(); ++j) block[j] = static_cast<char>((j * 131 + i * 7) >> 3);
      f.write(block.data(), static_cast<std::streamsize>(block.size()));
    }
    REQUIRE(f.good());
  }
  put(root / "small.txt", "s");

  const auto s1 = ws.snapshot();
  CHECK(s1.bytes == (40u << 20) + 1);
  CHECK(s1.stored_bytes == 1);
  CHECK(tree_bytes(store / "objects") < (1u << 20));
  ws.append("small.txt", "more");
  const auto s2 = ws.snapshot();
  CHECK(s2.stored_bytes == 5);
  CHECK(tree_bytes(store / "objects") < (1u << 20));

  // Checkout takes the large file from the workspace while its content matches.
  ws.checkout(s2.id, tmp.path / "co");
  CHECK(fs::file_size(tmp.path / "co/big.bin") == (40u << 20));
  CHECK((slurp(tmp.path / "co/big.bin") == slurp(root / "big.bin")));  // (( )): do not print 40 MiB
  CHECK(slurp(tmp.path / "co/small.txt") == "smore");

  {
    std::fstream f(root / "big.bin", std::ios::binary | std::ios::in | std::ios::out);
    f.seekg(100);
    const char c = static_cast<char>(f.get());
    f.seekp(100);
    f.put(static_cast<char>(c ^ 1));
    REQUIRE(f.good());
  }
  auto e = error_of([&] { ws.checkout(s2.id, tmp.path / "co2"); });
  CHECK(e.code_enum() == errc::not_found);
  CHECK_THAT(std::string(e.what()), Contains("big.bin"));
  CHECK_FALSE(fs::exists(tmp.path / "co2"));  // checked before anything was written

  const auto changes = ws.diff(s2.id, "");
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].path == "big.bin");
  CHECK(changes[0].kind == FileChange::modified);
  CHECK(changes[0].large);
  CHECK(changes[0].diff.empty());
  CHECK(error_of([&] { ws.undo("big.bin"); }).code_enum() == errc::not_found);
}

TEST_CASE_METHOD(Fixture, "workspace: diff between snapshots", "[workspace][snapshot]") {
  Workspace ws(root, opts());
  ws.write("a.txt", "1\n2\n3\n");
  ws.write("keep.txt", "keep\n");
  ws.write("gone.txt", "bye\n");
  put(root / "bin.dat", std::string("\0\1\2", 3));
  const std::string s1 = ws.snapshot().id;

  ws.write("a.txt", "1\ntwo\n3\n");
  fs::remove(root / "gone.txt");
  ws.write("new.txt", "hi\n");
  put(root / "bin.dat", std::string("\0\1\3", 3));
  const std::string s2 = ws.snapshot().id;

  const auto changes = ws.diff(s1, s2);
  REQUIRE(changes.size() == 4);
  CHECK(changes[0].path == "a.txt");
  CHECK(changes[0].kind == FileChange::modified);
  CHECK(changes[0].diff == "--- a/a.txt\n+++ b/a.txt\n@@ -1,3 +1,3 @@\n 1\n-2\n+two\n 3\n");
  CHECK(changes[1].path == "bin.dat");
  CHECK(changes[1].binary);
  CHECK(changes[1].diff.empty());
  CHECK(changes[2].path == "gone.txt");
  CHECK(changes[2].kind == FileChange::removed);
  CHECK(changes[2].diff == "--- a/gone.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n");
  CHECK(changes[3].path == "new.txt");
  CHECK(changes[3].kind == FileChange::added);
  CHECK(changes[3].diff == "--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+hi\n");

  CHECK(ws.diff(s2, "").empty());
  ws.write("keep.txt", "changed\n");
  const auto now = ws.diff(s2, "");
  REQUIRE(now.size() == 1);
  CHECK(now[0].path == "keep.txt");
  CHECK(now[0].diff == "--- a/keep.txt\n+++ b/keep.txt\n@@ -1 +1 @@\n-keep\n+changed\n");

  CHECK(ws.diff(s1.substr(0, 8), s2.substr(0, 8)).size() == 4);  // unique prefixes
  CHECK(error_of([&] { ws.diff("deadbeefdeadbeef", s2); }).code_enum() == errc::not_found);
  CHECK(error_of([&] { ws.diff("../../etc/passwd", s2); }).code_enum() == errc::not_found);
}

TEST_CASE_METHOD(Fixture, "workspace: undo walks back through snapshots", "[workspace][snapshot]") {
  WorkspaceOptions o = opts();
  o.read_only = {"ro.txt"};
  Workspace ws(root, o);
  ws.write("f.txt", "v1");
  const std::string s1 = ws.snapshot().id;
  ws.write("f.txt", "v2");
  const std::string s2 = ws.snapshot().id;
  ws.write("f.txt", "v3");
  ws.snapshot();

  CHECK(ws.undo("f.txt") == s2);
  CHECK(slurp(root / "f.txt") == "v2");
  ws.snapshot();  // the agent's step ends: a later undo still walks further back
  CHECK(ws.undo("f.txt") == s1);
  CHECK(slurp(root / "f.txt") == "v1");
  auto e = error_of([&] { ws.undo("f.txt"); });
  CHECK(e.code_enum() == errc::not_found);
  CHECK_THAT(std::string(e.what()), Contains("nothing to undo"));

  // A file no snapshot had is removed, with the directories it leaves empty.
  ws.write("newdir/x.txt", "x");
  CHECK_FALSE(ws.undo("newdir/x.txt").empty());
  CHECK_FALSE(fs::exists(root / "newdir"));

  put(root / "ro.txt", "r");
  CHECK(error_of([&] { ws.undo("ro.txt"); }).code_enum() == errc::invalid_argument);
}

TEST_CASE_METHOD(Fixture, "workspace: restore brings the whole tree back", "[workspace][snapshot]") {
  WorkspaceOptions o = opts();
  o.read_only = {"ro.txt"};
  Workspace ws(root, o);
  ws.write("a.txt", "A");
  ws.write("sub/b.txt", "B");
  put(root / "ro.txt", "R");
  fs::create_symlink("a.txt", root / "ln");
  const unsigned a_mode = mode_of(root / "a.txt");
  const std::string s1 = ws.snapshot().id;

  ws.write("a.txt", "A2");
  fs::permissions(root / "a.txt", static_cast<fs::perms>(0700), fs::perm_options::replace);
  fs::remove(root / "sub/b.txt");
  ws.write("c.txt", "C");
  ws.write("newdir/x.txt", "X");
  put(root / "ro.txt", "R2");  // changed by some program: read-only files are left alone
  fs::remove(root / "ln");
  fs::create_symlink("c.txt", root / "ln");
  ws.snapshot();

  ws.restore(s1);
  CHECK(slurp(root / "a.txt") == "A");
  CHECK(mode_of(root / "a.txt") == a_mode);
  CHECK(slurp(root / "sub/b.txt") == "B");
  CHECK(fs::symlink_status(root / "c.txt").type() == fs::file_type::not_found);
  CHECK_FALSE(fs::exists(root / "newdir"));
  CHECK(slurp(root / "ro.txt") == "R2");
  CHECK(fs::read_symlink(root / "ln") == "a.txt");  // the link itself was put back, not its target
  CHECK(ws.diff(s1, "").size() == 1);  // only the read-only file differs
}

TEST_CASE_METHOD(Fixture, "workspace: checkout reproduces a snapshot in a new folder", "[workspace][snapshot]") {
  Workspace ws(root, opts());
  ws.write("a.txt", "A");
  ws.write("dir/b.txt", "B");
  ws.write("run.sh", "#!/bin/sh\necho hi\n");
  fs::permissions(root / "run.sh", static_cast<fs::perms>(0755), fs::perm_options::replace);
  fs::create_symlink("a.txt", root / "link.txt");
  const std::string s1 = ws.snapshot().id;
  ws.write("a.txt", "changed");  // checkout must use the snapshot's content, not the current one

  const fs::path co = tmp.path / "co";
  ws.checkout(s1, co);
  CHECK(slurp(co / "a.txt") == "A");
  CHECK(slurp(co / "dir/b.txt") == "B");
  CHECK(slurp(co / "run.sh") == "#!/bin/sh\necho hi\n");
  CHECK(mode_of(co / "run.sh") == 0755);
  CHECK(fs::is_symlink(co / "link.txt"));
  CHECK(fs::read_symlink(co / "link.txt") == "a.txt");
  CHECK(names_in(co) == std::vector<std::string>{"a.txt", "dir", "link.txt", "run.sh"});

  CHECK(error_of([&] { ws.checkout(s1, co); }).code_enum() == errc::invalid_argument);  // not empty
}

TEST_CASE_METHOD(Fixture, "workspace: the store outlives the Workspace object", "[workspace][snapshot]") {
  std::vector<std::string> ids;
  {
    Workspace ws1(root, opts());
    ws1.write("a.txt", "1");
    ws1.snapshot("one");
    ws1.write("a.txt", "2");
    ws1.snapshot("two");
    ids = ws1.snapshots();
  }
  REQUIRE(ids.size() == 2);
  Workspace ws2(root, opts());
  CHECK(ws2.snapshots() == ids);
  CHECK(ws2.diff(ids[0], ids[1]).size() == 1);
  const auto info = ws2.snapshot();
  CHECK(info.changed_files == 0);
  CHECK(info.stored_bytes == 0);
  CHECK(ws2.snapshots().size() == 3);

  // A manifest that does not hash to its id is refused.
  put(store / "snapshots" / (ids[0] + ".json"), "{\"files\":[]}");
  CHECK(error_of([&] { ws2.diff(ids[0], ids[1]); }).code_enum() == errc::parse);
}

TEST_CASE_METHOD(Fixture, "workspace: construction checks root and store", "[workspace][snapshot]") {
  auto e = error_of([&] { Workspace w(tmp.path / "missing"); });
  CHECK(e.code_enum() == errc::io);
  CHECK_THAT(std::string(e.what()), Contains("missing"));

  WorkspaceOptions inside = opts();
  inside.store = root / "store";
  CHECK(error_of([&] { Workspace w(root, inside); }).code_enum() == errc::invalid_argument);
  CHECK_FALSE(fs::exists(root / "store"));

  Workspace no_store(root);
  CHECK(error_of([&] { no_store.snapshot(); }).code_enum() == errc::config);
  CHECK(error_of([&] { (void)no_store.snapshots(); }).code_enum() == errc::config);
}
