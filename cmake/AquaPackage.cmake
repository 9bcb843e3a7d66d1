# Installs a CMake package config so third parties can find_package(aqua).
include(CMakePackageConfigHelpers)
install(EXPORT aquaTargets NAMESPACE aqua:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/aqua)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/aquaConfig.cmake.in
  ${CMAKE_BINARY_DIR}/aquaConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/aqua
  PATH_VARS AQUA_INSTALL_PLUGIN_DIR)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/aquaConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/aquaConfig.cmake ${CMAKE_BINARY_DIR}/aquaConfigVersion.cmake
  ${CMAKE_CURRENT_LIST_DIR}/AquaPlugin.cmake DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/aqua)
