#include "retrieval/online/cache.hpp"

#include <boost/json.hpp>
#include <openssl/evp.h>
#include <simdjson.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

namespace mlrc::detail {

namespace fs = std::filesystem;

namespace {
std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
}  // namespace

ResponseCache::ResponseCache(fs::path dir, std::chrono::seconds ttl) : dir_(std::move(dir)), ttl_(ttl) {}

std::string ResponseCache::key(std::string_view method, std::string_view url, std::string_view accept) {
  std::string what;
  what.append(method).append("\n").append(url).append("\n").append(accept);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(what.data(), what.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) out += hex[md[i] >> 4], out += hex[md[i] & 15];
  return out;
}

fs::path ResponseCache::path_of(const std::string& key) const { return dir_ / (key + ".resp"); }

std::optional<ResponseCache::Entry> ResponseCache::get(const std::string& key) const {
  std::ifstream in(path_of(key), std::ios::binary);
  if (!in) return std::nullopt;
  std::string header;
  if (!std::getline(in, header) || header.size() > 64 * 1024) return std::nullopt;
  simdjson::dom::parser p;
  simdjson::dom::element h;
  std::int64_t v = 0, stored = 0, bytes = -1;
  if (p.parse(header).get(h) || h["v"].get(v) || v != 1 || h["stored_at"].get(stored) || h["bytes"].get(bytes) || bytes < 0 ||
      bytes > (std::int64_t(1) << 31))
    return std::nullopt;
  // Never trust the header's size beyond what the file holds (a damaged entry must not cost a
  // huge allocation).
  auto here = in.tellg();
  in.seekg(0, std::ios::end);
  auto end = in.tellg();
  in.seekg(here);
  if (here < 0 || end < 0 || bytes != static_cast<std::int64_t>(end - here)) return std::nullopt;
  Entry e;
  e.body.resize(static_cast<std::size_t>(bytes));
  in.read(e.body.data(), bytes);
  if (in.gcount() != bytes || in.peek() != std::char_traits<char>::eof()) return std::nullopt;  // truncated or trailing junk
  e.age = std::chrono::seconds(std::max<std::int64_t>(0, unix_now() - stored));
  e.fresh = e.age < ttl_;
  return e;
}

bool ResponseCache::put(const std::string& key, std::string_view url, std::string_view body) const {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return false;
  static std::atomic<unsigned> counter{0};
  fs::path tmp = dir_ / ("." + key + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++));
  boost::json::object h{{"v", 1}, {"url", url}, {"stored_at", unix_now()}, {"bytes", body.size()}};
  std::string text = boost::json::serialize(h) + "\n";
  text.append(body);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  std::size_t off = 0;
  while (off < text.size()) {
    ssize_t w = ::write(fd, text.data() + off, text.size() - off);
    if (w <= 0) break;
    off += static_cast<std::size_t>(w);
  }
  bool ok = off == text.size();
  if (::close(fd) != 0) ok = false;
  if (!ok || std::rename(tmp.c_str(), path_of(key).c_str()) != 0) {
    fs::remove(tmp, ec);
    return false;
  }
  return true;
}

void ResponseCache::drop(const std::string& key) const {
  std::error_code ec;
  fs::remove(path_of(key), ec);
}

}  // namespace mlrc::detail
