# The find_package test, run by CTest as `cmake -P run.cmake` with
#   -DBUILD_DIR=<the project's build folder> -DCONSUMER_DIR=<this folder> -DWORK_DIR=<a scratch folder>
#   -DCXX_COMPILER=<compiler> -DGENERATOR=<CMake generator>
# It installs the build into WORK_DIR/prefix, configures and builds the consumer project against it with
# CMAKE_PREFIX_PATH, runs the program, and checks that backprop.pc is usable by pkg-config.
foreach(variable BUILD_DIR CONSUMER_DIR WORK_DIR CXX_COMPILER GENERATOR)
  if(NOT DEFINED ${variable})
    message(FATAL_ERROR "run.cmake: -D${variable}=... is required")
  endif()
endforeach()

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${what} failed (${status}):\n${output}")
  endif()
  message(STATUS "${what}: ok")
  set(last_output "${output}" PARENT_SCOPE)
endfunction()

set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})
run("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
foreach(installed include/backprop/nn/network.hpp bin/backprop)
  if(NOT EXISTS ${prefix}/${installed})
    message(FATAL_ERROR "expected ${prefix}/${installed} to be installed")
  endif()
endforeach()

# No public header may include nlohmann/json: it is a private dependency, not installed with the package.
file(GLOB_RECURSE headers ${prefix}/include/backprop/*.hpp)
foreach(header ${headers})
  file(STRINGS ${header} leak REGEX "#include.*nlohmann")
  if(leak)
    message(FATAL_ERROR "${header} includes nlohmann_json, a private dependency: ${leak}")
  endif()
endforeach()

run("configure the consumer" ${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${WORK_DIR}/build -G ${GENERATOR}
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCMAKE_BUILD_TYPE=Release)
run("build the consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run("run the consumer" ${WORK_DIR}/build/seed-training)
message("${last_output}")

# backprop.pc: relocatable (found from its own folder), so its -I must reach the installed headers.
find_program(PKG_CONFIG pkg-config)
if(PKG_CONFIG)
  file(GLOB_RECURSE pc_file ${prefix}/backprop.pc)
  if(NOT pc_file)
    message(FATAL_ERROR "expected backprop.pc under ${prefix}")
  endif()
  get_filename_component(pc_dir ${pc_file} DIRECTORY)
  set(ENV{PKG_CONFIG_PATH} ${pc_dir})
  run("pkg-config backprop" ${PKG_CONFIG} --print-errors --cflags --libs backprop)
  string(STRIP "${last_output}" flags)
  message(STATUS "pkg-config --cflags --libs backprop: ${flags}")
  # (one MATCHES per if(): CMAKE_MATCH_1 is expanded before the condition is evaluated)
  set(include_dir "")
  set(library_dir "")
  if(flags MATCHES "-I([^ ]+)")
    set(include_dir ${CMAKE_MATCH_1})
  endif()
  if(flags MATCHES "-L([^ ]+) -lbackprop")
    set(library_dir ${CMAKE_MATCH_1})
  endif()
  if(NOT EXISTS "${include_dir}/backprop/nn/network.hpp" OR NOT EXISTS "${library_dir}/libbackprop.a")
    message(FATAL_ERROR "pkg-config backprop: expected -I to the installed headers and -L to libbackprop.a, "
                        "got ${flags}")
  endif()
endif()
