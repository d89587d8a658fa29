# Checks that an installed emx works for embedders:
#   1. cmake --install the build tree into WORK_DIR/prefix;
#   2. configure and build find_package_demo (find_package(emx) + emx::core) against it;
#   3. run the demo on PROBLEM with PLAN and expect "success: yes".
# Run by ctest (cpp/examples/CMakeLists.txt) with -DBUILD_DIR -DDEMO_SOURCE -DWORK_DIR
# -DCONFIG -DCXX_COMPILER -DGENERATOR -DPROBLEM -DPLAN (PLAN joined by '|').
foreach(var BUILD_DIR DEMO_SOURCE WORK_DIR CXX_COMPILER GENERATOR PROBLEM PLAN)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "find_package_test.cmake needs -D${var}=...")
  endif()
endforeach()
if(NOT CONFIG)
  set(CONFIG Release)
endif()

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " shown "${ARGN}")
    message(FATAL_ERROR "failed (${rc}): ${shown}\n${out}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()

set(prefix ${WORK_DIR}/prefix)
set(demo_build ${WORK_DIR}/build)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix} --config ${CONFIG})
file(GLOB_RECURSE config_files ${prefix}/*/emxConfig.cmake)
if(NOT config_files)
  message(FATAL_ERROR "no emxConfig.cmake under ${prefix}")
endif()
if(NOT EXISTS ${prefix}/include/emx/emx.hpp)
  message(FATAL_ERROR "headers were not installed: no ${prefix}/include/emx/emx.hpp")
endif()

run(${CMAKE_COMMAND} -S ${DEMO_SOURCE} -B ${demo_build} -G "${GENERATOR}"
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=${CONFIG} -DCMAKE_CXX_COMPILER=${CXX_COMPILER})
run(${CMAKE_COMMAND} --build ${demo_build} --config ${CONFIG})

find_program(demo NAMES demo PATHS ${demo_build} ${demo_build}/${CONFIG} NO_DEFAULT_PATH)
if(NOT demo)
  message(FATAL_ERROR "the demo was not built in ${demo_build}")
endif()
string(REPLACE "|" ";" plan "${PLAN}")
run(${demo} ${PROBLEM} ${plan})
message("${out}")
if(NOT out MATCHES "success: yes")
  message(FATAL_ERROR "the installed library did not solve ${PROBLEM}")
endif()
file(REMOVE_RECURSE ${WORK_DIR})
