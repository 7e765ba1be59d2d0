# Configuring never stops on an optional part nobody asked for (cmake/optional_parts.cmake). Run by CTest as
# `cmake -P run.cmake -DSOURCE_DIR=<the project> -DWORK_DIR=<a scratch folder> -DCXX_COMPILER=<compiler>`:
# 1. every optional part's package hidden at once (oneDNN by hiding OpenCL, which Debian's dnnl-config.cmake
#    requires, so that its own config file errors): configuring succeeds, and each part says OFF with what to
#    install;
# 2. a part asked for (-DBACKPROP_WITH_ONEDNN=ON) whose package is hidden stops configuring, naming it;
# 3. a build folder configured before parts had three states (BACKPROP_WITH_ONEDNN:BOOL=ON in its cache) is
#    detected again, not taken as asked for.
foreach(variable SOURCE_DIR WORK_DIR CXX_COMPILER)
  if(NOT DEFINED ${variable})
    message(FATAL_ERROR "run.cmake: -D${variable}=... is required")
  endif()
endforeach()
file(REMOVE_RECURSE ${WORK_DIR})

set(quick -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DBACKPROP_BUILD_TESTS=OFF -DBACKPROP_INSTALL=OFF)
set(hidden -DCMAKE_DISABLE_FIND_PACKAGE_OpenCL=ON -DCMAKE_DISABLE_FIND_PACKAGE_Protobuf=ON
           -DCMAKE_DISABLE_FIND_PACKAGE_MPI=ON -DCMAKE_DISABLE_FIND_PACKAGE_CUDAToolkit=ON
           -DCMAKE_DISABLE_FIND_PACKAGE_pybind11=ON)

execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/hidden ${quick} ${hidden}
                RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "configuring with every optional part hidden failed (${status}):\n${output}")
endif()
foreach(part "oneDNN's sgemm" "ONNX export" "Data-parallel training over MPI" "The CUDA backend" "The Python module")
  string(FIND "${output}" "backprop: ${part}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "no line for '${part}' in:\n${output}")
  endif()
  string(SUBSTRING "${output}" ${at} -1 line)
  string(REGEX MATCH "^[^\n]*" line "${line}")
  if(NOT line MATCHES " OFF \\(.*\\): install .* and configure again")
    message(FATAL_ERROR "expected '${part}' OFF with what to install, got: ${line}")
  endif()
  message(STATUS "${line}")
endforeach()
if(NOT output MATCHES "dnnl's CMake files failed to load")
  message(FATAL_ERROR "expected oneDNN's failing config file to be named:\n${output}")
endif()
file(STRINGS ${WORK_DIR}/hidden/CMakeCache.txt has REGEX "^BACKPROP_HAS_(ONEDNN|ONNX|MPI|CUDA|PYTHON):INTERNAL=no$")
list(LENGTH has count)
if(NOT count EQUAL 5)
  message(FATAL_ERROR "expected BACKPROP_HAS_<PART>=no for the five parts in the cache, got: ${has}")
endif()

execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/asked ${quick} -DBACKPROP_WITH_ONEDNN=ON
                        -DCMAKE_DISABLE_FIND_PACKAGE_OpenCL=ON -DBACKPROP_WITH_CUDA=OFF -DBACKPROP_WITH_PYTHON=OFF
                RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)
string(REGEX REPLACE "[ \n]+" " " output "${output}")  # CMake folds an error's lines
if(status EQUAL 0 OR NOT output MATCHES "BACKPROP_WITH_ONEDNN=ON: oneDNN's sgemm .* needs .*libdnnl-dev")
  message(FATAL_ERROR "a part asked for and missing must stop configuring, naming it (${status}):\n${output}")
endif()
message(STATUS "asked for and missing: stops")

file(WRITE ${WORK_DIR}/old/CMakeCache.txt "BACKPROP_WITH_ONEDNN:BOOL=ON\n")
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/old ${quick}
                        -DCMAKE_DISABLE_FIND_PACKAGE_OpenCL=ON -DBACKPROP_WITH_CUDA=OFF -DBACKPROP_WITH_PYTHON=OFF
                RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)
if(NOT status EQUAL 0 OR NOT output MATCHES "backprop: oneDNN's sgemm[^\n]* OFF \\(dnnl's")
  message(FATAL_ERROR "an old cache's ON must be detected again (${status}):\n${output}")
endif()
message(STATUS "an old cache's ON is detected again")
file(REMOVE_RECURSE ${WORK_DIR})
