# test_cli_names (cmake -P): every parameter name that a module's C code passes to the runtime
# (ds_cli_get_*, ds_cli_has_value, ds_cli_longflag, ds_cli_return_* with a literal name) is declared in that
# module's xml/<Name>.xml. The runtime stops loudly on an unknown name at run time; this finds one
# on a path no test runs. Also refuses C files that spell a flag ("--name"): flags belong to the XML.
#   cmake -DSOURCE=<source dir> -P check_names.cmake
file(GLOB xmls "${SOURCE}/xml/*.xml")
set(checked 0)
foreach(xml IN LISTS xmls)
  get_filename_component(module "${xml}" NAME_WE)
  file(READ "${xml}" text)
  file(GLOB_RECURSE sources "${SOURCE}/plugin/${module}/*.c")
  foreach(src IN LISTS sources)
    file(READ "${src}" code)
    string(REGEX MATCHALL "ds_cli_(get_[a-z]+|has_value|longflag|return_[a-z]+)\\(cli, \"[A-Za-z_0-9]+\""
           calls "${code}")
    foreach(call IN LISTS calls)
      string(REGEX REPLACE ".*\"([A-Za-z_0-9]+)\"" "\\1" name "${call}")
      string(FIND "${text}" "<name>${name}</name>" at)
      if(at EQUAL -1)
        message(FATAL_ERROR "${src}: asks for '${name}', which ${module}.xml does not declare")
      endif()
      math(EXPR checked "${checked} + 1")
    endforeach()
    if(code MATCHES "\"--[A-Za-z]")
      message(FATAL_ERROR "${src}: spells a command-line flag; flags are declared in ${module}.xml")
    endif()
  endforeach()
endforeach()
if(checked EQUAL 0)
  message(FATAL_ERROR "no parameter name found in plugin/*/ sources: the pattern is stale")
endif()
message(STATUS "${checked} parameter names checked against their XML")
