# cmake -DCMD="prog|arg|..." -DEXPECT_RC=N -DEXPECT=REGEX -P run_and_match.cmake
# Runs CMD and fails unless it exits with EXPECT_RC and its output matches EXPECT.
# (ctest's PASS_REGULAR_EXPRESSION alone would ignore the exit code, and a crash.)
string(REPLACE "|" ";" cmd "${CMD}")
execute_process(COMMAND ${cmd} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc STREQUAL "${EXPECT_RC}")
  message(FATAL_ERROR "exit status ${rc}, expected ${EXPECT_RC}")
endif()
if(NOT "${out}${err}" MATCHES "${EXPECT}")
  message(FATAL_ERROR "output does not match '${EXPECT}'")
endif()
