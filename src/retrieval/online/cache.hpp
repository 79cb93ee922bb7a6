#pragma once
// The on-disk HTTP response cache of the online sources (see HttpCacheOptions in online.hpp).
//
// One file per entry, `<dir>/<sha256 hex>.resp`: a first line of JSON
// {"v":1,"url":…,"stored_at":UNIX_SECONDS,"bytes":N} and then exactly N bytes of body. Written to
// a temporary file in the same folder and renamed into place. A file that does not have that
// shape (truncated, foreign, wrong length) is ignored, and replaced by the next `put`.
#include <mlrcopilot/error.hpp>  // first: declares mlrc::detail (see error.hpp)
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace mlrc::detail {

class ResponseCache {
 public:
  ResponseCache(std::filesystem::path dir, std::chrono::seconds ttl);

  struct Entry {
    std::string body;
    std::chrono::seconds age{0};
    bool fresh = false;  // younger than the TTL
  };

  // The key of a request: SHA-256 of method, URL and the Accept header. Callers never pass
  // credentials (they travel in other headers).
  static std::string key(std::string_view method, std::string_view url, std::string_view accept);

  // The entry for `key`, fresh or not; nullopt when there is none or it is unreadable.
  std::optional<Entry> get(const std::string& key) const;
  // Stores `body` for `key`. Failures to write are ignored (a cache must not fail a search);
  // returns whether it was stored.
  bool put(const std::string& key, std::string_view url, std::string_view body) const;
  // Removes the entry (e.g. a body that no longer parses).
  void drop(const std::string& key) const;

  const std::filesystem::path& dir() const noexcept { return dir_; }
  std::filesystem::path path_of(const std::string& key) const;

 private:
  std::filesystem::path dir_;
  std::chrono::seconds ttl_;
};

}  // namespace mlrc::detail
