# Phase 1 (planner): the JSON-schema validator (sans-io) and the planner over scripted models and
# real files (JSON, Markdown, text, PDF).
add_executable(mlrc_planner_tests
  unit/test_json_schema.cpp
  integration/test_planner.cpp)
target_include_directories(mlrc_planner_tests PRIVATE ${PROJECT_SOURCE_DIR}/src ${CMAKE_CURRENT_SOURCE_DIR}/support)
target_compile_definitions(mlrc_planner_tests PRIVATE MLRC_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
target_link_libraries(mlrc_planner_tests PRIVATE mlrcopilot::mlrcopilot Catch2::Catch2WithMain
  simdjson::simdjson Boost::json)
mlrc_warnings(mlrc_planner_tests)
catch_discover_tests(mlrc_planner_tests TEST_PREFIX "planner." PROPERTIES TIMEOUT 120 FAIL_REGULAR_EXPRESSION "No.tests.ran|No.test.cases.matched")
