#include "net/http_client.hpp"

#include <catch2/catch.hpp>

using mlrc::detail::ProxySettings;
using mlrc::detail::Url;

TEST_CASE("Url parses absolute http(s) URLs with default ports", "[url]") {
  auto u = Url::parse("https://api.openai.com/v1");
  CHECK(u.scheme == "https");
  CHECK(u.host == "api.openai.com");
  CHECK(u.port == "443");
  CHECK(u.path == "/v1");
  CHECK(u.origin() == "https://api.openai.com:443");
  auto v = Url::parse("http://127.0.0.1:8080/x?y=1");
  CHECK(v.port == "8080");
  CHECK(v.path == "/x?y=1");
  auto w = Url::parse("http://[::1]:9/");
  CHECK(w.host == "::1");
  CHECK(w.authority() == "[::1]:9");
  CHECK(Url::join("http://h:1/v1/", "/chat/completions").path == "/v1/chat/completions");
  CHECK(Url::join("https://api.anthropic.com", "v1/messages").path == "/v1/messages");
}

TEST_CASE("Url rejects what is not an absolute http(s) URL, naming it", "[url]") {
  CHECK_THROWS_WITH(Url::parse("ftp://x/"), Catch::Contains("ftp://x/") && Catch::Contains("scheme"));
  CHECK_THROWS_WITH(Url::parse("localhost:8000"), Catch::Contains("localhost:8000"));
  CHECK_THROWS_WITH(Url::parse("not a url"), Catch::Contains("not an absolute URL"));
}

TEST_CASE("Proxy selection follows HTTPS_PROXY/HTTP_PROXY/NO_PROXY conventions", "[proxy]") {
  ProxySettings p{"http://proxy:3128", "proxy2:8080", "localhost, .internal.example,example.org:8443"};
  auto https = p.proxy_for(Url::parse("https://api.openai.com/v1"));
  REQUIRE(https);
  CHECK(https->host == "proxy");
  CHECK(https->port == "3128");
  auto http = p.proxy_for(Url::parse("http://10.1.2.3/v1"));
  REQUIRE(http);
  CHECK(http->host == "proxy2");  // scheme-less proxy values are accepted
  CHECK_FALSE(p.proxy_for(Url::parse("http://localhost:11434/v1")));
  CHECK_FALSE(p.proxy_for(Url::parse("https://a.internal.example/")));
  CHECK_FALSE(p.proxy_for(Url::parse("https://internal.example/")));
  CHECK(p.proxy_for(Url::parse("https://notinternal.example/")));  // suffix must be a whole label
  CHECK_FALSE(p.proxy_for(Url::parse("https://example.org:8443/")));
  CHECK(p.proxy_for(Url::parse("https://example.org/")));  // other port: proxied
  ProxySettings all{"http://proxy:1", "", "*"};
  CHECK_FALSE(all.proxy_for(Url::parse("https://x.y/")));
  ProxySettings none{};
  CHECK_FALSE(none.proxy_for(Url::parse("https://x.y/")));
}
