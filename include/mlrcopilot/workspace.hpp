#pragma once
/** @file workspace.hpp
 *  `Workspace`: the one directory an agent may touch, with the file operations its tools need
 *  (list, read, write, append, copy, exact edit, diff) and content-addressed snapshots (record the
 *  state after each step, undo a file, diff two states, restore, check a state out elsewhere).
 *
 *  Confinement. Every path an operation takes is relative to the workspace root. Absolute paths,
 *  `..` that climbs above the root, and symlinks (in any component, including the last one, and
 *  dangling ones) whose target lies outside the root are refused with `Error(errc::invalid_argument)`
 *  naming the path. Paths matching a read-only pattern may be read but not written. The checks are
 *  made on the path at the time of the call; code running concurrently in the workspace could race
 *  them, so tools run between executions, not during them (the executor confines running code).
 *
 *  Patterns (read-only and ignore) are globs; see `WorkspaceOptions::read_only`.
 *
 *  Snapshots. A store directory outside the workspace holds blobs named by the SHA-256 of their
 *  content (so an unchanged file costs nothing), one JSON manifest per snapshot and an
 *  append-only index. A file whose size, mtime, ctime and inode match the previous snapshot is not
 *  read again. Files of at least `large_file_bytes` (data sets, checkpoints) are recorded by hash
 *  only and never copied into the store: they cannot be undone or restored to different content,
 *  and `checkout` takes them from the workspace while their content still matches.
 *
 *  All operations are synchronous local file I/O (no cancellation); a snapshot costs time and
 *  bytes in proportion to what changed, plus a manifest line per file.
 *
 *  Thread-safety: a `Workspace` is used by one thread at a time; const members may run
 *  concurrently with each other. One `Workspace` object at a time should take snapshots into a
 *  given store (several may read it). */

#include <mlrcopilot/error.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mlrc {
inline namespace v1 {

/** Options for `Workspace`. */
struct WorkspaceOptions {
  /// Globs of paths the agent may read but not write, append, edit, copy onto, undo or restore,
  /// e.g. `{"data/**", "eval.py"}`.
  ///
  /// Patterns (these and `ignore`) match the whole path relative to the root, segment by
  /// segment: `*` matches any characters within one segment, `?` one character, `[...]` a set,
  /// and a segment `**` matches zero or more whole segments. A path is covered when it or one of
  /// its parent directories matches: `data` and `data/**` both cover `data/train.csv`, while
  /// `data/*.csv` covers `data/train.csv` but not `data/sub/x.csv` (that needs `data/**/*.csv`).
  std::vector<std::string> read_only;
  /** Most bytes `read` returns; longer selections come back with `truncated` set. */
  std::size_t max_read_bytes = 64 * 1024;
  /** Largest content `write`/`append` accept and largest file `edit` rewrites. */
  std::size_t max_write_bytes = 16u << 20;
  /** Snapshot store directory. Must lie outside the workspace, so the agent cannot tamper with
   *  it; created when missing. Empty: snapshot operations throw `Error(errc::config)`. */
  std::filesystem::path store;
  /** Files at least this big are recorded by hash without copying their content into the store. */
  std::uint64_t large_file_bytes = 32u << 20;
  /// Globs of paths that `list` does not show and snapshots do not record (`.git`, caches).
  std::vector<std::string> ignore = {".git/**", "__pycache__/**", "**/__pycache__/**"};
  /** Files bigger than this get no text diff in `diff` (the change is still listed). */
  std::size_t max_diff_bytes = 1u << 20;
  /** Flush new store files to disk before a snapshot becomes visible in the index (crash
   *  safety). Turning it off makes snapshots faster on slow disks; tests do. */
  bool fsync = true;
};

/** One entry of `Workspace::list`. */
struct FileEntry {
  std::string path;        ///< relative to the workspace root, '/'-separated
  bool is_dir = false;     ///< a directory (for a symlink: its target is one)
  std::uint64_t size = 0;  ///< bytes of a file (of a symlink's target); 0 for directories
  bool read_only = false;  ///< covered by a read-only pattern
  bool symlink = false;    ///< the entry itself is a symbolic link
};

/** What `Workspace::read` returns. */
struct ReadResult {
  std::string text;            ///< the selected lines, with their newlines; empty when `binary`
  bool binary = false;         ///< the file holds a NUL byte or invalid UTF-8 in its first 8 KiB
  bool truncated = false;      ///< `text` stops before `last_line` asked for (size cap)
  std::size_t total_lines = 0; ///< lines in the whole file (a last line without '\n' counts)
  std::size_t first_line = 0;  ///< 1-based first line in `text`; 0 for an empty or binary file
  std::size_t last_line = 0;   ///< 1-based last line (partly) in `text`; 0 for an empty or binary file
  std::uint64_t size = 0;      ///< size of the whole file in bytes
};

/** What `Workspace::edit` returns. */
struct EditResult {
  std::string diff;              ///< unified diff of the change (see `Workspace::diff_text`)
  std::size_t replacements = 0;  ///< occurrences replaced
};

/** What `Workspace::snapshot` returns. */
struct SnapshotInfo {
  std::string id;                  ///< 64 hex digits: SHA-256 of the manifest
  std::size_t files = 0;           ///< files (and symlinks) recorded
  std::uint64_t bytes = 0;         ///< their total size
  std::size_t changed_files = 0;   ///< added, removed or modified since the previous snapshot
  std::uint64_t stored_bytes = 0;  ///< new content bytes written to the store by this snapshot
  std::uint64_t manifest_bytes = 0;///< size of the manifest written (grows with the file count)
  std::uint64_t hashed_bytes = 0;  ///< bytes read to hash files the stat cache could not vouch for
  std::chrono::microseconds took{0};  ///< wall time of the snapshot
};

/** One changed file in `Workspace::diff`. */
struct FileChange {
  /** What happened to the path. */
  enum Kind { added, removed, modified };
  std::string path;     ///< relative to the workspace root
  Kind kind = modified;
  bool binary = false;  ///< one side is binary: no text diff
  bool large = false;   ///< one side is a large file whose content is not stored: no text diff
  /** Unified diff ("--- a/p" / "+++ b/p", "/dev/null" for an absent side); empty for binary,
   *  large, symlink or mode-only changes and for files above `max_diff_bytes`. */
  std::string diff;
};

/** A directory the agent may touch. See the file comment for confinement, patterns and
 *  snapshots. Movable, not copyable. */
class Workspace {
 public:
  /** Opens the workspace at `root`, which must be an existing directory (`Error(errc::io)`
   *  naming it otherwise); it is made canonical. Creates `opts.store` when given; throws
   *  `Error(errc::invalid_argument)` when the store lies inside the workspace. */
  explicit Workspace(std::filesystem::path root, WorkspaceOptions opts = {});
  ~Workspace();
  Workspace(Workspace&&) noexcept;
  Workspace& operator=(Workspace&&) noexcept;
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  /** The canonical root directory. */
  const std::filesystem::path& root() const noexcept;
  /** The options in effect. */
  const WorkspaceOptions& options() const noexcept;

  /// The real absolute path `rel` names, after following symlinks that stay inside. A path that
  /// does not exist yet is fine when its existing parent chain is inside. Throws
  /// `Error(errc::invalid_argument)` for an empty or absolute path, one that leaves the workspace
  /// ("path '../x' leaves the workspace"), and, with `for_write`, for the root itself and for a
  /// read-only path ("path 'data/train.csv' is read-only (pattern 'data/*.csv')").
  std::filesystem::path resolve(std::string_view rel, bool for_write) const;

  /** Entries of directory `dir` (of its whole subtree with `recursive`; symlinked directories
   *  are not entered), sorted by path, without ignored paths. Throws `errc::not_found` when
   *  `dir` does not exist and `errc::invalid_argument` when it is not a directory. */
  std::vector<FileEntry> list(std::string_view dir = ".", bool recursive = false) const;

  /** Reads lines `first_line`..`last_line` (1-based, inclusive; 0 means from the start / to the
   *  end) of a file. At most `max_read_bytes` come back: whole lines while at least one fits,
   *  else the start of the first line; `truncated` then says so and `last_line` is the last line
   *  returned. Binary files come back with `binary` set and no text. Throws `errc::not_found` for
   *  a missing file, `errc::invalid_argument` for a directory or a range outside the file. */
  ReadResult read(std::string_view path, std::size_t first_line = 0, std::size_t last_line = 0) const;

  /** Replaces (or creates) a file with `content`, creating parent directories. Atomic: the
   *  content goes to a temporary file in the same directory which is then renamed over the
   *  target, so readers see the old or the new file, never a mix; an existing file keeps its
   *  permission bits. Refuses content above `max_write_bytes`. */
  void write(std::string_view path, std::string_view content);

  /** Appends `content` to a file (created when missing, with its parent directories). Refuses
   *  content above `max_write_bytes` and files with several hard links (one may live outside
   *  the workspace). */
  void append(std::string_view path, std::string_view content);

  /** Copies a file, or a directory recursively, to `to` (which must not be an existing
   *  directory for a file source). Each file is written atomically, by reflink when the file
   *  system can; permission bits are kept. Every destination path is checked for read-only. */
  void copy(std::string_view from, std::string_view to);

  /** Replaces the exact text `old_text` by `new_text` in a text file. Throws
   *  `errc::invalid_argument` when `old_text` is empty or not found ("text to replace not found in
   *  'x'"), or found several times without `replace_all` (the message says how many). */
  EditResult edit(std::string_view path, std::string_view old_text, std::string_view new_text,
                  bool replace_all = false);

  /** Unified diff from `before` to `after` (Myers' minimal line diff, 3 lines of context,
   *  headers "--- a/<path>" and "+++ b/<path>", GNU's "\ No newline at end of file" marker).
   *  Empty when the texts are equal. Touches no file. */
  std::string diff_text(std::string_view path, std::string_view before, std::string_view after) const;

  /** Records the current state (all files but ignored ones) in the store and returns what it
   *  cost. Files whose stat data match the previous snapshot are not read; unchanged content is
   *  not stored again; large files are only hashed. `label` is kept in the index. */
  SnapshotInfo snapshot(std::string label = {});

  /** Snapshot ids in the store, oldest first (also those taken by other `Workspace` objects). */
  std::vector<std::string> snapshots() const;

  /** Changes from snapshot `from_id` to snapshot `to_id` ("" = the current files), sorted by
   *  path. Ids may be abbreviated to a unique prefix of at least 6 hex digits; an unknown id
   *  throws `errc::not_found`. */
  std::vector<FileChange> diff(const std::string& from_id, const std::string& to_id) const;

  /** Puts back the file's content from the most recent snapshot in which it differs from the
   *  current content (removes the file if it did not exist then) and returns that snapshot's id.
   *  Repeated undos of the same path walk further back, even across snapshots taken in
   *  between, as long as nothing else changed the file (this object remembers the position).
   *  Throws `errc::not_found` when there is nothing to undo or the content is a large file's
   *  (not stored), `errc::invalid_argument` for a read-only path. */
  std::string undo(std::string_view path);

  /** Brings the whole workspace back to snapshot `id`: changed files are rewritten, files the
   *  snapshot does not have are removed. Read-only and ignored paths are left untouched. Checks
   *  that every needed content is available before changing anything. */
  void restore(const std::string& id);

  /** Materialises snapshot `id` into `dest`, which must not exist or be an empty directory.
   *  Large files are copied (reflinked when possible) from the workspace if their content still
   *  matches, else `errc::not_found` names the file. */
  void checkout(const std::string& id, const std::filesystem::path& dest) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace v1
}  // namespace mlrc
