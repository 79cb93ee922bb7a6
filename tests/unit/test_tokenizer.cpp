// The local index's tokenizer, tested directly (sans-io): text in, terms out.
#include <catch2/catch.hpp>

#include "retrieval/tokenizer.hpp"

#include <algorithm>
#include <string>
#include <vector>

using mlrc::retrieval::is_stop_word;
using mlrc::retrieval::stem;
using mlrc::retrieval::tokenize;
using mlrc::retrieval::Tokenizer;
using mlrc::retrieval::TokenizerOptions;
using Terms = std::vector<std::string>;

namespace {
bool has(const Terms& t, const std::string& s) { return std::find(t.begin(), t.end(), s) != t.end(); }
}  // namespace

TEST_CASE("tokenizer: case and punctuation", "[tokenizer]") {
  CHECK(tokenize("Deep Learning, for NLP!") == Terms{"deep", "learning", "nlp"});
  CHECK(tokenize("") == Terms{});
  CHECK(tokenize("  ...;;  ") == Terms{});
  CHECK(tokenize("(BERT) [GPT] {T5}") == Terms{"bert", "gpt", "t", "5", "t5"});
  CHECK(tokenize("cs.CL cs.LG") == Terms{"cs", "cl", "cs", "lg"});
  CHECK(tokenize("O(n log n)") == Terms{"o", "n", "log", "n"});
}

TEST_CASE("tokenizer: hyphenated words give parts and the joined whole", "[tokenizer]") {
  CHECK(tokenize("self-supervised") == Terms{"self", "supervised", "selfsupervised"});
  CHECK(tokenize("Self-Supervised") == tokenize("self-supervised"));
  // Stop words drop out of the parts, not out of the whole.
  CHECK(tokenize("state-of-the-art") == Terms{"state", "art", "stateoftheart"});
  // A dash that does not join two words separates.
  CHECK(tokenize("learning - fast") == Terms{"learning", "fast"});
  CHECK(tokenize("-x- y--z") == Terms{"x", "y", "z", "yz"});
  // U+2010 (hyphen) joins; an em dash separates.
  CHECK(tokenize("self\xE2\x80\x90supervised") == Terms{"self", "supervised", "selfsupervised"});
  CHECK(tokenize("learning\xE2\x80\x94" "fast") == Terms{"learning", "fast"});
}

TEST_CASE("tokenizer: identifiers split and kept whole", "[tokenizer]") {
  CHECK(tokenize("getUserName") == Terms{"get", "user", "name", "getusername"});
  CHECK(tokenize("load_data_set") == Terms{"load", "data", "set", "load_data_set"});
  CHECK(tokenize("HTTPServer") == Terms{"http", "server", "httpserver"});
  CHECK(tokenize("ResNet50") == Terms{"res", "net", "50", "resnet50"});
  CHECK(tokenize("word2vec") == Terms{"word", "2", "vec", "word2vec"});
  // Leading/trailing underscores are not connectors.
  CHECK(tokenize("__init__") == Terms{"init"});
  // snake_case of camelCase parts: every level is searchable.
  auto t = tokenize("parse_JSONValue");
  CHECK(has(t, "parse"));
  CHECK(has(t, "json"));
  CHECK(has(t, "value"));
  CHECK(has(t, "jsonvalue"));
  CHECK(has(t, "parse_jsonvalue"));
  // An acronym plural stays one word: "BERTs" is not "BER" + "Ts".
  CHECK(tokenize("BERTs") == Terms{"berts"});
  CHECK(tokenize("CNNs and RNNs") == Terms{"cnns", "rnns"});
}

TEST_CASE("tokenizer: stop words and apostrophes", "[tokenizer]") {
  CHECK(tokenize("In this paper we propose a model") == Terms{"paper", "propose", "model"});
  CHECK(tokenize("the model's output") == Terms{"model", "output"});  // possessive 's dropped
  CHECK(tokenize("the model\xE2\x80\x99s output") == Terms{"model", "output"});
  CHECK(tokenize("don't stop") == Terms{"dont", "stop"});                // other apostrophes join
  CHECK(tokenize("'quoted' models' s") == Terms{"quoted", "models", "s"});
  CHECK(tokenize("The Of And", TokenizerOptions{false, false}) == Terms{"the", "of", "and"});
  CHECK(is_stop_word("the"));
  CHECK(is_stop_word("via"));
  CHECK(is_stop_word("yours"));
  CHECK_FALSE(is_stop_word("model"));
  // Every word of the list is found (the list must stay sorted for the binary search).
  for (const char* w : {"a", "about", "during", "further", "itself", "over", "should", "through", "was", "we", "with", "would"})
    CHECK(is_stop_word(w));
}

TEST_CASE("tokenizer: light plural stemming (optional) and query variants", "[tokenizer]") {
  CHECK(stem("networks") == "network");
  CHECK(stem("studies") == "study");
  CHECK(stem("classes") == "class");
  CHECK(stem("batches") == "batch");
  CHECK(stem("boxes") == "box");
  CHECK(stem("loss") == "loss");
  CHECK(stem("analysis") == "analysis");
  CHECK(stem("corpus") == "corpus");
  CHECK(stem("gas") == "gas");       // too short to touch
  CHECK(stem("x86s") == "x86s");     // not all letters
  // Off by default: the index keeps exact forms.
  CHECK(tokenize("Graph Neural Networks") == Terms{"graph", "neural", "networks"});
  CHECK(tokenize("Graph Neural Networks", TokenizerOptions{true, true}) == tokenize("graph neural network", TokenizerOptions{true, true}));
  CHECK(tokenize("networks", TokenizerOptions{true, false}) == Terms{"networks"});
  // Queries are expanded to singular/plural forms instead.
  using mlrc::retrieval::word_variants;
  CHECK(word_variants("network") == Terms{"networks"});
  CHECK(word_variants("networks") == Terms{"network"});
  CHECK(word_variants("studies") == Terms{"study"});
  CHECK(word_variants("study") == Terms{"studies"});
  CHECK(word_variants("batch") == Terms{"batches"});
  CHECK(word_variants("batches") == Terms{"batch"});
  CHECK(word_variants("day") == Terms{"days"});
  CHECK(word_variants("class") == Terms{"classes"});
  CHECK(word_variants("x86").empty());   // not all letters
  CHECK(word_variants("go").empty());    // too short
}

TEST_CASE("tokenizer: non-ASCII text", "[tokenizer]") {
  CHECK(tokenize("Schölkopf") == Terms{"schölkopf"});
  CHECK(tokenize("ÉCOLE Normale") == Terms{"école", "normale"});           // Latin-1 capitals fold
  CHECK(tokenize("«quoted» text") == Terms{"quoted", "text"});              // U+00AB/U+00BB separate
  CHECK(tokenize("x ≤ y") == Terms{"x", "y"});                               // math symbols separate
  CHECK(tokenize("深度学习 模型") == Terms{"深度学习", "模型"});             // kept as words
  // Broken UTF-8 does not crash or loop.
  CHECK(tokenize(std::string("ab\xC3", 3)).size() == 1);
  CHECK(tokenize(std::string("\xFF\xFE", 2)).size() == 1);
}

TEST_CASE("tokenizer: over-long terms are dropped", "[tokenizer]") {
  std::string hash(80, 'a');
  CHECK(tokenize(hash + " model") == Terms{"model"});
  // The parts of a long compound survive even when the whole is too long.
  std::string compound = std::string(40, 'x') + "-" + std::string(40, 'y');
  CHECK(tokenize(compound) == Terms{std::string(40, 'x'), std::string(40, 'y')});
}

TEST_CASE("tokenizer: reuse keeps results independent", "[tokenizer]") {
  Tokenizer t;
  auto first = t("Graph Neural Networks");
  CHECK(std::vector<std::string>(first.begin(), first.end()) == Terms{"graph", "neural", "networks"});
  auto& second = t("transformer");
  CHECK(std::vector<std::string>(second.begin(), second.end()) == Terms{"transformer"});
}
