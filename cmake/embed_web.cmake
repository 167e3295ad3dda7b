# Run as `cmake -DSOURCE_DIR=… -DOUTPUT=… -P embed_web.cmake`: puts every file under web/
# (the page, its scripts and the example media in web/examples/) into the binary as
# web_assets.cpp, so a single file serves the page with nothing beside it.
#
# The bytes go in with the assembler's .incbin, not as a C array initializer: a list of
# '\xNN' characters costs time and memory in proportion to the bytes — for 2.2 MB of assets,
# measured on the 2-core build machine: 9.9 s to generate a 16 MB source and 18 s / 450 MB to
# compile it at -O2 — while .incbin copies each file as it is (0.1 s and 0.9 s / 53 MB). The compiler's dependency list cannot see an .incbin file, so the generated
# source names each file's SHA-256: a changed byte changes the source, which recompiles it
# (and gives ccache a different key).
file(GLOB_RECURSE files RELATIVE ${SOURCE_DIR}/web ${SOURCE_DIR}/web/*)
list(SORT files)

# Content types are decided in C++ by extension (web_content_type in routes_web.cpp).

set(assembly "")
set(declarations "")
set(table "")
set(index 0)
foreach(name ${files})
  if(name MATCHES "(^|/)(node_modules|tests?)/" OR name MATCHES "(^|/)\\.")
    continue()
  endif()
  set(path ${SOURCE_DIR}/web/${name})
  if(path MATCHES "[\"\\\\\n]" OR name MATCHES "[\"\\\\\n]")
    message(FATAL_ERROR "embed_web: cannot embed a path with quotes or backslashes: ${path}")
  endif()
  file(SIZE ${path} size)
  file(SHA256 ${path} sha)
  set(symbol "sonic_web_asset_${index}")
  string(APPEND assembly
    "    // ${name}: ${size} bytes, sha256 ${sha}\n"
    "    \".globl ${symbol}\\n.hidden ${symbol}\\n.type ${symbol}, @object\\n.balign 16\\n\"\n"
    "    \"${symbol}:\\n.incbin \\\"${path}\\\"\\n.size ${symbol}, ${size}\\n.byte 0\\n\"\n")
  string(APPEND declarations "extern \"C\" const char ${symbol}[];\n")
  string(APPEND table "    {\"/${name}\", std::string_view(${symbol}, ${size})},\n")
  math(EXPR index "${index} + 1")
endforeach()

set(body "// Generated from web/ at build time by cmake/embed_web.cmake; do not edit.\n")
string(APPEND body "#include \"http/web_assets.h\"\n\n")
string(APPEND body "// Each file's bytes, then a NUL, in read-only data.\n")
string(APPEND body "__asm__(\n    \".pushsection .rodata.sonic_web, \\\"a\\\", @progbits\\n\"\n${assembly}    \".popsection\\n\");\n\n")
string(APPEND body "${declarations}\n")
string(APPEND body "namespace sonic::http {\nnamespace {\nconst WebAsset kAssets[] = {\n${table}};\n}  // namespace\n\n")
string(APPEND body "const WebAsset* find_web_asset(std::string_view path) {\n  if (path == \"/\" || path.empty()) path = \"/index.html\";\n  for (const auto& asset : kAssets)\n    if (asset.path == path) return &asset;\n  return nullptr;\n}\n\n}  // namespace sonic::http\n")
file(WRITE ${OUTPUT}.tmp "${body}")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUTPUT}.tmp ${OUTPUT})
file(REMOVE ${OUTPUT}.tmp)
