#pragma once
// Small helpers the C++ test programs share: expecting an mlrc::Error, and building a Query.
#include <mlrcopilot/error.hpp>
#include <mlrcopilot/retriever.hpp>

#include <catch2/catch.hpp>

#include <functional>
#include <string>

namespace mlrc::test {

// Runs `f` and returns the mlrc::Error it throws (fails the test if it throws nothing).
inline Error expect_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  FAIL("expected an mlrc::Error");
  return Error(errc::internal, "unreachable");
}

// A query for `text` over corpus `c`, top `k`.
inline Query query(std::string text, Corpus c = Corpus::papers, std::size_t k = 10) {
  Query q;
  q.text = std::move(text);
  q.corpus = c;
  q.top_k = k;
  return q;
}

}  // namespace mlrc::test
