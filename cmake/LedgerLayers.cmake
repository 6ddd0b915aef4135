# The layers, enforced by the build (docs/ARCHITECTURE.md, "Dependencies").
#
# Includes. No target has the repository root on its include path. Each
# module's headers are reachable only through the module's own include root,
# build/<flavour>/layers/<module>/include, which holds one symlink, <module>,
# to the module's source folder; the module's library exports that root
# PUBLIC. So `#include "ledger/ledger.h"` reads as it always did, and it
# resolves only for targets that link ledger_log, which are those at or above
# ledger/. A file that includes a header of a module above its own (or of a
# sibling: notify/ and http/) does not compile.
#
# So that such an include fails with a message rather than "No such file",
# every target of a module also searches, last (-idirafter), the module's
# guard folder, build/<flavour>/layers/<module>/guard: for each header of
# each module that is not below it, a stub holding only an #error that names
# the rule. The stub is found only when the real header is not visible.
#
# Links. At the end of configuring, every target given a module here is
# checked: each library of ours it links must belong to its own module or to
# one below it, or cmake stops with a message naming the target and the link.
#
#   ledger_layer(TARGET MODULE)   puts TARGET in MODULE: its include root
#                                 (PUBLIC for a library), its guard, the link
#                                 check. Unit tests and the header check use
#                                 it too, so they get exactly their module's
#                                 rights.

# The modules, lowest first, and for each everything below it (what it may
# include and link; by convention a target links only the ones directly
# below and reaches the rest through them). proto has no headers of its own
# in the source tree: ledger_proto exports the folder with the generated
# event.pb.h.
set(LEDGER_LAYERS proto common ledger projections ingest notify http app)
set(LEDGER_LAYER_BELOW_proto)
set(LEDGER_LAYER_BELOW_common)
set(LEDGER_LAYER_BELOW_ledger common proto)
set(LEDGER_LAYER_BELOW_projections ledger common proto)
set(LEDGER_LAYER_BELOW_ingest projections ledger common proto)
set(LEDGER_LAYER_BELOW_notify ingest projections ledger common proto)
set(LEDGER_LAYER_BELOW_http ingest projections ledger common proto)
set(LEDGER_LAYER_BELOW_app http notify ingest projections ledger common proto)

# The libraries that give a module's rights, for the targets that stand for
# the module without being part of it: its unit tests and its header check.
set(LEDGER_LAYER_LIBRARIES_proto ledger_proto)
set(LEDGER_LAYER_LIBRARIES_common ledger_common)
set(LEDGER_LAYER_LIBRARIES_ledger ledger_log)
set(LEDGER_LAYER_LIBRARIES_projections ledger_projections)
set(LEDGER_LAYER_LIBRARIES_ingest ledger_ingest)
set(LEDGER_LAYER_LIBRARIES_notify ledger_notify)
set(LEDGER_LAYER_LIBRARIES_http ledger_http)
set(LEDGER_LAYER_LIBRARIES_app ledger_app_options ledger_http ledger_notify)

set(LEDGER_LAYERS_DIR ${PROJECT_BINARY_DIR}/layers)

# Points LINK at TARGET unless it already does (a symlink rewritten at every
# configure would look new to anything that checks it).
function(ledger_layer_link target link)
  if(IS_SYMLINK ${link})
    file(READ_SYMLINK ${link} current)
    if(current STREQUAL target)
      return()
    endif()
  endif()
  get_filename_component(parent ${link} DIRECTORY)
  file(MAKE_DIRECTORY ${parent})
  file(CREATE_LINK ${target} ${link} SYMBOLIC)
endfunction()

# The headers a module's guard must stop: those of every module that is
# neither the module nor below it, relative to the repository root
# ("http/api.h"); proto's as the generated name ("event.pb.h").
function(ledger_layer_forbidden_headers module out)
  set(headers)
  foreach(other ${LEDGER_LAYERS})
    if(other STREQUAL module OR other IN_LIST LEDGER_LAYER_BELOW_${module})
      continue()
    endif()
    if(other STREQUAL "proto")
      file(GLOB protos CONFIGURE_DEPENDS RELATIVE ${PROJECT_SOURCE_DIR}/proto ${PROJECT_SOURCE_DIR}/proto/*.proto)
      foreach(proto ${protos})
        string(REGEX REPLACE "\\.proto$" ".pb.h" generated ${proto})
        list(APPEND headers ${generated})
      endforeach()
    else()
      file(GLOB_RECURSE found CONFIGURE_DEPENDS RELATIVE ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/${other}/*.h)
      list(APPEND headers ${found})
    endif()
  endforeach()
  set(${out} ${headers} PARENT_SCOPE)
endfunction()

# Writes MODULE's include root and guard folder (once per configure).
function(ledger_layer_prepare module)
  get_property(done GLOBAL PROPERTY LEDGER_LAYER_PREPARED_${module})
  if(done)
    return()
  endif()
  set_property(GLOBAL PROPERTY LEDGER_LAYER_PREPARED_${module} TRUE)
  if(NOT module STREQUAL "proto")
    ledger_layer_link(${PROJECT_SOURCE_DIR}/${module} ${LEDGER_LAYERS_DIR}/${module}/include/${module})
  endif()

  set(guard ${LEDGER_LAYERS_DIR}/${module}/guard)
  file(MAKE_DIRECTORY ${guard})
  set(allowed ${LEDGER_LAYER_BELOW_${module}})
  if(allowed)
    list(JOIN allowed ", " allowed)
  else()
    set(allowed "nothing of ours")
  endif()
  ledger_layer_forbidden_headers(${module} headers)
  set(wanted)
  foreach(header ${headers})
    string(REGEX MATCH "^[^/]+" owner ${header})
    if(owner STREQUAL header)
      set(owner proto)
    endif()
    file(CONFIGURE OUTPUT ${guard}/${header} CONTENT
"// Generated by cmake/LedgerLayers.cmake: found only because the real header is not on this include path.
#error \"layer violation: a file built as part of module '${module}' includes \\\"${header}\\\" of module '${owner}', which is not below '${module}'. '${module}' may include and link only: ${allowed}. See docs/ARCHITECTURE.md, Dependencies; the 'In file included from' lines above name the including file.\"
")
    list(APPEND wanted ${guard}/${header})
  endforeach()
  # Stubs of headers that are gone (renamed, deleted) would misreport.
  file(GLOB_RECURSE present ${guard}/*)
  foreach(stub ${present})
    if(NOT stub IN_LIST wanted)
      file(REMOVE ${stub})
    endif()
  endforeach()
endfunction()

function(ledger_layer target module)
  if(NOT module IN_LIST LEDGER_LAYERS)
    message(FATAL_ERROR "ledger_layer(${target} ${module}): no module '${module}' (cmake/LedgerLayers.cmake knows: ${LEDGER_LAYERS})")
  endif()
  ledger_layer_prepare(${module})
  set_property(TARGET ${target} PROPERTY LEDGER_LAYER ${module})
  set_property(GLOBAL APPEND PROPERTY LEDGER_LAYER_TARGETS ${target})
  if(module STREQUAL "proto")
    return()
  endif()
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "EXECUTABLE")
    set(scope PRIVATE)
  elseif(type STREQUAL "INTERFACE_LIBRARY")
    set(scope INTERFACE)
  else()
    set(scope PUBLIC)
  endif()
  target_include_directories(${target} ${scope} ${LEDGER_LAYERS_DIR}/${module}/include)
  if(NOT type STREQUAL "INTERFACE_LIBRARY")
    target_compile_options(${target} PRIVATE "SHELL:-idirafter ${LEDGER_LAYERS_DIR}/${module}/guard")
  endif()
endfunction()

# Run once, after every CMakeLists.txt has been read (deferred below).
function(ledger_layer_check_links)
  get_property(targets GLOBAL PROPERTY LEDGER_LAYER_TARGETS)
  set(violations)
  foreach(target ${targets})
    get_target_property(module ${target} LEDGER_LAYER)
    get_target_property(type ${target} TYPE)
    set(links)
    if(NOT type STREQUAL "INTERFACE_LIBRARY")
      get_target_property(direct ${target} LINK_LIBRARIES)
      if(direct)
        list(APPEND links ${direct})
      endif()
    endif()
    get_target_property(interface ${target} INTERFACE_LINK_LIBRARIES)
    if(interface)
      list(APPEND links ${interface})
    endif()
    list(TRANSFORM links REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1")
    list(REMOVE_DUPLICATES links)
    foreach(link ${links})
      if(NOT TARGET "${link}")
        continue()
      endif()
      get_target_property(linked_module ${link} LEDGER_LAYER)
      if(NOT linked_module)
        continue()
      endif()
      if(linked_module STREQUAL module OR linked_module IN_LIST LEDGER_LAYER_BELOW_${module})
        continue()
      endif()
      list(APPEND violations "  ${target} (module ${module}) links ${link} (module ${linked_module}), which is not below ${module}")
    endforeach()
  endforeach()
  if(violations)
    list(JOIN violations "\n" violations)
    message(FATAL_ERROR "layer violation: a target links a module above its own (docs/ARCHITECTURE.md, Dependencies; cmake/LedgerLayers.cmake):\n${violations}")
  endif()
endfunction()
cmake_language(DEFER DIRECTORY ${PROJECT_SOURCE_DIR} CALL ledger_layer_check_links)
