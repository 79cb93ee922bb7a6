# The local retrieval index: the tokenizer (sans-io), building and searching real index folders,
# and the `mlrc index` command run in-process. Tests read ../shared/data when it exists and skip
# those cases (with a warning) when it does not.
add_executable(mlrc_retrieval_tests
  unit/test_tokenizer.cpp
  integration/test_retrieval.cpp
  ${PROJECT_SOURCE_DIR}/src/cli/cmd_index.cpp)
target_include_directories(mlrc_retrieval_tests PRIVATE ${PROJECT_SOURCE_DIR}/src ${CMAKE_CURRENT_SOURCE_DIR}/support)
target_compile_definitions(mlrc_retrieval_tests PRIVATE MLRC_SHARED_DATA="${PROJECT_SOURCE_DIR}/../shared/data")
target_link_libraries(mlrc_retrieval_tests PRIVATE mlrcopilot::mlrcopilot Catch2::Catch2WithMain
  Boost::json simdjson::simdjson ZLIB::ZLIB)
mlrc_warnings(mlrc_retrieval_tests)
catch_discover_tests(mlrc_retrieval_tests TEST_PREFIX "retrieval." PROPERTIES TIMEOUT 180 FAIL_REGULAR_EXPRESSION "No.tests.ran|No.test.cases.matched")
