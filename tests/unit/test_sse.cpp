// SSE framing (sans-io): the same bytes must give the same events however they are split.

#include <catch2/catch.hpp>

#include "llm/wire.hpp"

#include <algorithm>
#include <functional>
#include <random>

using mlrc::detail::SseEvent;
using mlrc::detail::SseParser;

namespace {

// Covers: BOM, comments, CRLF / CR / LF line ends, multi-line data, a single space stripped
// after the colon, an event with no data (not dispatched, its id kept), a field without a colon,
// retry (valid and invalid), unknown fields.
const std::string kStream =
    "\xEF\xBB\xBF: keep-alive\r\n"
    "event: message_start\r\n"
    "data: {\"a\":1}\r\n"
    "\r\n"
    "data: line1\n"
    "data:  line2\n"
    "\n"
    "id: 42\r"
    "event: ignored\r"
    "\r"
    "data\n"
    "\n"
    "data:nospace\n"
    "retry: 1500\n"
    "unknown: field\n"
    "\n"
    "retry: 15x\n"
    "event: last\n"
    "data: y\n"
    "\n";

const std::vector<SseEvent> kExpected = {
    {"message_start", "{\"a\":1}", "", std::nullopt},
    {"", "line1\n line2", "", std::nullopt},
    {"", "", "42", std::nullopt},
    {"", "nospace", "42", 1500},
    {"last", "y", "42", std::nullopt},
};

std::vector<SseEvent> feed_in_pieces(const std::string& bytes, const std::vector<std::size_t>& cuts) {
  SseParser p;
  std::vector<SseEvent> out;
  std::size_t start = 0;
  for (std::size_t cut : cuts) {
    p.feed(std::string_view(bytes).substr(start, cut - start), out);
    start = cut;
  }
  p.feed(std::string_view(bytes).substr(start), out);
  CHECK_FALSE(p.has_partial());
  return out;
}

mlrc::errc error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const mlrc::Error& e) {
    return e.code_enum();
  }
  return mlrc::errc::ok;
}

}  // namespace

TEST_CASE("SSE stream fed whole gives the expected events", "[sse]") {
  CHECK(feed_in_pieces(kStream, {}) == kExpected);
}

TEST_CASE("SSE stream fed byte by byte gives the same events", "[sse]") {
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < kStream.size(); ++i) cuts.push_back(i);
  CHECK(feed_in_pieces(kStream, cuts) == kExpected);
}

TEST_CASE("SSE stream fed in random splits gives the same events", "[sse]") {
  for (unsigned seed = 1; seed <= 200; ++seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<std::size_t> pos(0, kStream.size());
    std::vector<std::size_t> cuts(rng() % 8);
    for (auto& c : cuts) c = pos(rng);
    std::sort(cuts.begin(), cuts.end());
    INFO("seed " << seed);
    CHECK(feed_in_pieces(kStream, cuts) == kExpected);
  }
}

TEST_CASE("SSE CRLF split across feeds is one line end", "[sse]") {
  SseParser p;
  std::vector<SseEvent> out;
  p.feed("data: a\r", out);
  p.feed("\n", out);  // completes the CRLF; must not count as the blank line
  CHECK(out.empty());
  CHECK(p.has_partial());
  p.feed("\r", out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].data == "a");
  p.feed("\n", out);  // second half of the blank line's CRLF: no new event
  p.feed("data: b\n\n", out);
  REQUIRE(out.size() == 2);
  CHECK(out[1].data == "b");
}

TEST_CASE("SSE BOM split across feeds is stripped once", "[sse]") {
  SseParser p;
  std::vector<SseEvent> out;
  p.feed("\xEF", out);
  p.feed("\xBB", out);
  p.feed("\xBF", out);
  p.feed("data: x\n\n", out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].data == "x");

  // A second BOM is part of the field name, which is then unknown.
  SseParser q;
  std::vector<SseEvent> out2;
  q.feed("\xEF\xBB\xBF\xEF\xBB\xBF" "data: x\n\n", out2);
  CHECK(out2.empty());

  // Bytes that only start like a BOM are kept.
  SseParser r;
  std::vector<SseEvent> out3;
  r.feed("\xEF", out3);
  r.feed("x\nevent: e\ndata: z\n\n", out3);
  REQUIRE(out3.size() == 1);
  CHECK(out3[0].event == "e");
}

TEST_CASE("SSE has_partial reports an unfinished event", "[sse]") {
  SseParser p;
  std::vector<SseEvent> out;
  CHECK_FALSE(p.has_partial());
  p.feed("da", out);
  CHECK(p.has_partial());
  p.feed("ta: x\n", out);
  CHECK(p.has_partial());  // an event without its blank line is truncated
  p.feed("\n", out);
  CHECK_FALSE(p.has_partial());
  p.feed(": only a comment\n", out);
  CHECK_FALSE(p.has_partial());
  CHECK(out.size() == 1);
}

TEST_CASE("SSE retry only when all digits", "[sse]") {
  SseParser p;
  std::vector<SseEvent> out;
  p.feed("retry: 250\ndata: a\n\nretry: -5\ndata: b\n\nretry: 99999999999999999999999999\ndata: c\n\n", out);
  REQUIRE(out.size() == 3);
  CHECK(out[0].retry == 250);
  CHECK_FALSE(out[1].retry.has_value());
  CHECK_FALSE(out[2].retry.has_value());
}

TEST_CASE("SSE event larger than max_event_bytes throws protocol", "[sse]") {
  SECTION("one long line") {
    SseParser p;
    p.max_event_bytes = 64;
    std::vector<SseEvent> out;
    CHECK(error_of([&] { p.feed("data: " + std::string(100, 'a'), out); }) == mlrc::errc::protocol);
  }
  SECTION("many short data lines") {
    SseParser p;
    p.max_event_bytes = 64;
    std::vector<SseEvent> out;
    CHECK(error_of([&] {
            for (int i = 0; i < 30; ++i) p.feed("data: aaaa\n", out);
          }) == mlrc::errc::protocol);
  }
  SECTION("the bound is per event, not per stream") {
    SseParser p;
    p.max_event_bytes = 64;
    std::vector<SseEvent> out;
    for (int i = 0; i < 100; ++i) p.feed("data: 0123456789\n\n", out);
    CHECK(out.size() == 100);
    CHECK(p.buffered() == 0);
  }
}
