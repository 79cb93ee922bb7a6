include(CMakePackageConfigHelpers)

set(MLRC_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/mlrcopilot")

install(DIRECTORY include/mlrcopilot DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES capi/include/mlrcopilot.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS mlrcopilot mlrcopilot_c mlrc
  EXPORT mlrcopilotTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} NAMELINK_COMPONENT Development
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT mlrcopilotTargets NAMESPACE mlrcopilot:: DESTINATION ${MLRC_CMAKE_DIR})

configure_package_config_file(cmake/mlrcopilotConfig.cmake.in
  "${PROJECT_BINARY_DIR}/mlrcopilotConfig.cmake" INSTALL_DESTINATION ${MLRC_CMAKE_DIR})
write_basic_package_version_file("${PROJECT_BINARY_DIR}/mlrcopilotConfigVersion.cmake"
  COMPATIBILITY SameMajorVersion)
install(FILES "${PROJECT_BINARY_DIR}/mlrcopilotConfig.cmake" "${PROJECT_BINARY_DIR}/mlrcopilotConfigVersion.cmake"
  DESTINATION ${MLRC_CMAKE_DIR})

# The examples `mlrc demo` uses (papers, tasks, the scripted session, a small corpus).
install(DIRECTORY examples/ DESTINATION ${CMAKE_INSTALL_DATADIR}/mlrcopilot/examples
  PATTERN ".mlrc-*" EXCLUDE PATTERN "__pycache__" EXCLUDE)
