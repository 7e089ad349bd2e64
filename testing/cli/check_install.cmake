# test_cli_install (cmake -P): `cmake --install` of the build into a fresh prefix lays out, for
# every xml/<Name>.xml, the executable <Name> (no dot in its name, SLICER_CLI.md rule 9) with
# <Name>.xml beside it, byte for byte the source XML, and the installed executable's --xml prints
# exactly that file (rule 10).
#   cmake -DBUILD=<build> -DPREFIX=<empty dir> -DDIR=<install dir> -DSOURCE=<source> -P check_install.cmake
file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND ${CMAKE_COMMAND} --install "${BUILD}" --prefix "${PREFIX}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${rc}): ${err}")
endif()
file(GLOB xmls "${SOURCE}/xml/*.xml")
list(LENGTH xmls n)
if(n EQUAL 0)
  message(FATAL_ERROR "no module description under ${SOURCE}/xml")
endif()
foreach(xml IN LISTS xmls)
  get_filename_component(name "${xml}" NAME_WE)
  set(exe "${PREFIX}/${DIR}/${name}")
  if(name MATCHES "\\.")
    message(FATAL_ERROR "${name}: a module's file name must have no dot")
  endif()
  if(NOT EXISTS "${exe}" OR IS_DIRECTORY "${exe}")
    message(FATAL_ERROR "${exe} was not installed")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files "${xml}" "${PREFIX}/${DIR}/${name}.xml"
                  RESULT_VARIABLE same)
  if(NOT same EQUAL 0)
    message(FATAL_ERROR "${PREFIX}/${DIR}/${name}.xml is missing or differs from ${xml}")
  endif()
  execute_process(COMMAND "${exe}" --xml OUTPUT_FILE "${PREFIX}/${name}.xml.out"
                  ERROR_VARIABLE xml_err RESULT_VARIABLE xml_rc TIMEOUT 5)
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files "${xml}" "${PREFIX}/${name}.xml.out"
                  RESULT_VARIABLE same)
  if(NOT xml_rc EQUAL 0 OR NOT same EQUAL 0 OR NOT xml_err STREQUAL "")
    message(FATAL_ERROR "installed ${name} --xml: exit ${xml_rc}, stderr '${xml_err}', "
                        "same bytes: ${same} (0 = yes)")
  endif()
  message(STATUS "${DIR}/${name} and ${name}.xml installed")
endforeach()
file(REMOVE_RECURSE "${PREFIX}")
