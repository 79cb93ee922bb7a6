# The online retrieval sources (tests/online.cmake): the sans-io parts on scripted bytes (Atom,
# request targets, documented response bodies, cache files, retry planning) and the sources over
# loopback HTTP against the fake server (faults, cache, fallback, cancellation, factory).
add_executable(mlrc_online_tests
  unit/test_online_apis.cpp
  integration/test_online.cpp)
target_include_directories(mlrc_online_tests PRIVATE ${PROJECT_SOURCE_DIR}/src ${CMAKE_CURRENT_SOURCE_DIR}/support)
target_link_libraries(mlrc_online_tests PRIVATE mlrcopilot::mlrcopilot mlrc_test_support Catch2::Catch2WithMain
  Boost::json simdjson::simdjson)
mlrc_warnings(mlrc_online_tests)
catch_discover_tests(mlrc_online_tests TEST_PREFIX "online." PROPERTIES TIMEOUT 180 FAIL_REGULAR_EXPRESSION "No.tests.ran|No.test.cases.matched")

# `mlrc index search --source` against mlrc-fake-llm serving canned API bodies from a folder.
add_test(NAME cli.online_search
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_cli_online.sh $<TARGET_FILE:mlrc> $<TARGET_FILE:mlrc-fake-llm> ${PROJECT_SOURCE_DIR})
set_tests_properties(cli.online_search PROPERTIES TIMEOUT 180 FAIL_REGULAR_EXPRESSION "No.tests.ran|No.test.cases.matched")
