// Server-Sent Events framing, following the WHATWG HTML "event stream interpretation" rules.

#include "wire.hpp"

#include <charconv>

namespace mlrc::detail {

namespace {
constexpr std::string_view kBom = "\xEF\xBB\xBF";
}

void SseParser::feed(std::string_view bytes, std::vector<SseEvent>& out) {
  // A BOM may only appear at the very start and may itself arrive split; hold the first bytes in
  // line_ until we know whether they are a BOM.
  if (!started_) {
    while (!bytes.empty() && line_.size() < kBom.size() && kBom.starts_with(line_ + bytes[0])) {
      line_ += bytes[0];
      bytes.remove_prefix(1);
    }
    if (line_ == kBom) {
      line_.clear();
      started_ = true;
    } else if (bytes.empty()) {
      return;  // still could be a BOM
    } else {
      started_ = true;  // not a BOM: replay the held bytes as ordinary input
      std::string held = std::move(line_);
      line_.clear();
      if (!held.empty()) feed(held, out);
    }
  }
  while (!bytes.empty()) {
    if (last_cr_) {
      last_cr_ = false;
      if (bytes[0] == '\n') {  // second half of a CRLF that was split across feeds
        bytes.remove_prefix(1);
        continue;
      }
    }
    std::size_t eol = bytes.find_first_of("\r\n");
    std::size_t take = eol == std::string_view::npos ? bytes.size() : eol;
    line_.append(bytes.data(), take);
    if (buffered() > max_event_bytes)
      throw Error(errc::protocol, "SSE event larger than " + std::to_string(max_event_bytes) + " bytes");
    if (eol == std::string_view::npos) return;
    last_cr_ = bytes[eol] == '\r';
    bytes.remove_prefix(eol + 1);
    line_done(out);
  }
}

void SseParser::line_done(std::vector<SseEvent>& out) {
  std::string line;
  line.swap(line_);
  if (line.empty()) {  // blank line: dispatch
    if (have_data_) {
      SseEvent ev;
      ev.event = std::move(cur_.event);
      ev.data = std::move(cur_.data);
      ev.data.pop_back();  // the '\n' after the last data line
      ev.id = cur_.id;     // the last event id persists across events
      ev.retry = cur_.retry;
      out.push_back(std::move(ev));
    }
    // Per the spec an event without data is dropped, but its id (if any) is kept.
    cur_.event.clear();
    cur_.data.clear();
    cur_.retry.reset();
    have_data_ = false;
    any_field_ = false;
    return;
  }
  if (line[0] == ':') return;  // comment (often a keep-alive)
  std::string_view field = line, value;
  if (std::size_t colon = field.find(':'); colon != std::string_view::npos) {
    value = field.substr(colon + 1);
    field = field.substr(0, colon);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  any_field_ = true;
  if (field == "event") {
    cur_.event = value;
  } else if (field == "data") {
    cur_.data.append(value);
    cur_.data += '\n';
    have_data_ = true;
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) cur_.id = value;
  } else if (field == "retry") {
    long ms = 0;
    bool digits = !value.empty() && value.find_first_not_of("0123456789") == std::string_view::npos;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
    if (digits && ec == std::errc{} && end == value.data() + value.size()) cur_.retry = ms;
  }
  // Other field names are ignored, as the spec requires.
  if (buffered() > max_event_bytes)
    throw Error(errc::protocol, "SSE event larger than " + std::to_string(max_event_bytes) + " bytes");
}

bool SseParser::has_partial() const noexcept { return !line_.empty() || any_field_; }

std::size_t SseParser::buffered() const noexcept { return line_.size() + cur_.data.size() + cur_.event.size(); }

}  // namespace mlrc::detail
