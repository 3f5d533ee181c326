# kldload_add_plugin(<target> SOURCES <files...> [OUTPUT_NAME <name>] [NO_INSTALL])
#
# Builds a kldload plugin as a shared object that exports only its entry point: hidden
# visibility for everything, a linker version script, and no undefined symbols allowed.
# The file is named <name>.so (OUTPUT_NAME defaults to the target name) and is installed in
# KLDLOAD_PLUGIN_DIR unless NO_INSTALL is given.
set(_KLDLOAD_PLUGIN_MAP "${CMAKE_CURRENT_LIST_DIR}/kldload-plugin.map")

function(kldload_add_plugin target)
  cmake_parse_arguments(ARG "NO_INSTALL" "OUTPUT_NAME;OUTPUT_DIRECTORY" "SOURCES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "kldload_add_plugin(${target}): SOURCES is required")
  endif()
  if(NOT ARG_OUTPUT_NAME)
    set(ARG_OUTPUT_NAME ${target})
  endif()
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE kldload::sdk)
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    OUTPUT_NAME ${ARG_OUTPUT_NAME}
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LINK_DEPENDS "${_KLDLOAD_PLUGIN_MAP}")
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIRECTORY}")
  elseif(DEFINED KLDLOAD_BUILD_PLUGIN_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${KLDLOAD_BUILD_PLUGIN_DIR}")
  endif()
  target_link_options(${target} PRIVATE "-Wl,--version-script=${_KLDLOAD_PLUGIN_MAP}")
  if(NOT KLDLOAD_SANITIZE)
    target_link_options(${target} PRIVATE "-Wl,-z,defs")
  endif()
  if(NOT ARG_NO_INSTALL AND DEFINED KLDLOAD_PLUGIN_DIR)
    install(TARGETS ${target} LIBRARY DESTINATION "${KLDLOAD_PLUGIN_DIR}")
  endif()
endfunction()
