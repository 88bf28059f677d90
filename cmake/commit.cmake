# cmake -DSRC=<source dir> -DOUT=<header> -P commit.cmake
# Writes #define SKIFF_COMMIT for --version, at every build but only when it changed (so an
# unchanged commit recompiles nothing): SKIFF_COMMIT from the environment (a build from a
# copy of the tree, e.g. `make deb`), else the checkout's HEAD (-dirty with uncommitted
# changes), else "" (unknown).
if(DEFINED ENV{SKIFF_COMMIT})
  set(commit "$ENV{SKIFF_COMMIT}")
else()
  set(commit "")
  execute_process(COMMAND git -C ${SRC} rev-parse --show-toplevel
    OUTPUT_VARIABLE top OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
  # Only this tree's own repository: not one it happens to sit in.
  if(rc EQUAL 0 AND top STREQUAL SRC)
    execute_process(COMMAND git -C ${SRC} describe --always --dirty --abbrev=12
      OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  endif()
endif()
set(text "#define SKIFF_COMMIT \"${commit}\"\n")
set(old "")
if(EXISTS ${OUT})
  file(READ ${OUT} old)
endif()
if(NOT old STREQUAL text)
  file(WRITE ${OUT} "${text}")
endif()
