# The optional parts (oneDNN, ONNX, MPI, CUDA, Python): each is BACKPROP_WITH_<PART>, AUTO by default, ON or OFF.
# - AUTO: on when its packages are found and their CMake files load, else off with one line saying what to
#   install. Configuring never stops on a part nobody asked for.
# - ON: asked for; configuring stops when the packages are missing, saying what to install.
# - OFF: not searched for.
# The choice made is a plain variable BACKPROP_WITH_<PART> (ON or OFF), which shadows the cache entry from
# here down (so `if(BACKPROP_WITH_ONNX)` reads the outcome), and the cache entry BACKPROP_HAS_<PART> (yes or no)
# says it to tools and to .ci/run.

# backprop_part_mode(<var> <doc>): declares the cache entry and sets <var>_MODE to AUTO, ON or OFF.
function(backprop_part_mode var doc)
  get_property(type CACHE ${var} PROPERTY TYPE)
  if(type STREQUAL "BOOL")
    # A cache written before the parts had three states, where ON meant "found once": detect again.
    set_property(CACHE ${var} PROPERTY VALUE AUTO)
  endif()
  set(${var} AUTO CACHE STRING "${doc} (AUTO: when found; ON: required; OFF)")
  set_property(CACHE ${var} PROPERTY TYPE STRING)
  set_property(CACHE ${var} PROPERTY STRINGS AUTO ON OFF)
  string(TOUPPER "${${var}}" value)
  if(value STREQUAL "AUTO")
    set(mode AUTO)
  elseif(${var})
    set(mode ON)
  else()
    set(mode OFF)
  endif()
  set(${var}_MODE ${mode} PARENT_SCOPE)
endfunction()

# backprop_part_result(<var> <found> <what> <hint> [<why>]): the outcome of a part whose search set <found>;
# <why>, where given, says what failed instead of "not found".
macro(backprop_part_result var found what hint)
  set(backprop_why "not found")
  if(NOT "${ARGV4}" STREQUAL "")
    set(backprop_why "${ARGV4}")
  endif()
  if(${var}_MODE STREQUAL "OFF")
    set(${var} OFF)
    message(STATUS "backprop: ${what} OFF (${var}=OFF)")
  elseif(${found})
    set(${var} ON)
    message(STATUS "backprop: ${what} ON")
  elseif(${var}_MODE STREQUAL "ON")
    message(FATAL_ERROR "${var}=ON: ${what} needs ${hint} (${backprop_why})")
  else()
    set(${var} OFF)
    message(STATUS "backprop: ${what} OFF (${backprop_why}): install ${hint} and configure again to have it")
  endif()
  string(REGEX REPLACE "^BACKPROP_WITH_" "BACKPROP_HAS_" backprop_has_var ${var})
  if(${var})
    set(${backprop_has_var} yes CACHE INTERNAL "")
  else()
    set(${backprop_has_var} no CACHE INTERNAL "")
  endif()
endmacro()

# backprop_package_loads(<result> <package> [args of find_package]): sets <result> to whether find_package(<package> ... REQUIRED)
# succeeds in a child CMake. A package's own config file may stop configuring even under QUIET (Debian's
# dnnl-config.cmake calls find_package(OpenCL REQUIRED), and ocl-icd-opencl-dev is only a Recommends of
# libdnnl-dev): asked here first, its failure turns the part off instead of ending the configure. The child
# sees the search settings of this configure (prefixes, <Package>_DIR, ignored and disabled packages). On a
# failure, <result>_WHY holds CMake's first line about it.
function(backprop_package_loads result package)
  set(dir ${PROJECT_BINARY_DIR}/package-probes/${package})
  file(WRITE ${dir}/CMakeLists.txt
       "cmake_minimum_required(VERSION 3.25)\nproject(probe LANGUAGES CXX)\nfind_package(${package} ${ARGN} REQUIRED)\n")
  set(args "-DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}")
  get_cmake_property(names CACHE_VARIABLES)
  foreach(name IN LISTS names)
    if(name MATCHES "(_DIR|_ROOT|_INCLUDE_DIR|_LIBRARY)$|^CMAKE_(PREFIX_PATH|FIND_ROOT_PATH|[A-Z_]*IGNORE_[A-Z_]*PATH|DISABLE_FIND_PACKAGE_.*)$"
       AND NOT name MATCHES "^(CMAKE_)?(HOME|PROJECT|BINARY|SOURCE)_DIR$|^backprop_")
      # A path found by an earlier configure whose package has since been removed is searched for again.
      if(name MATCHES "(_INCLUDE_DIR|_LIBRARY)$" AND IS_ABSOLUTE "${${name}}" AND NOT EXISTS "${${name}}")
        continue()
      endif()
      string(REPLACE ";" "\\;" value "${${name}}")
      list(APPEND args "-D${name}=${value}")
    endif()
  endforeach()
  foreach(name Python_EXECUTABLE PYTHON_EXECUTABLE)  # set by the caller, not cached
    if(DEFINED ${name})
      list(APPEND args "-D${name}=${${name}}")
    endif()
  endforeach()
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${dir} -B ${dir}/build ${args}
                  RESULT_VARIABLE status OUTPUT_QUIET ERROR_VARIABLE errors)
  file(REMOVE_RECURSE ${dir})
  if(status EQUAL 0)
    set(${result} ON PARENT_SCOPE)
  else()
    string(REGEX MATCH "Could NOT find [^\n]*" first_error "${errors}")
    if(first_error STREQUAL "")
      string(REGEX MATCH "CMake Error at ([^\n]*):\n *([^\n]*)" first_error "${errors}")
      set(first_error "${CMAKE_MATCH_1}: ${CMAKE_MATCH_2}")
    endif()
    set(${result} OFF PARENT_SCOPE)
    set(${result}_WHY "${package}'s CMake files failed to load: ${first_error}" PARENT_SCOPE)
  endif()
endfunction()
