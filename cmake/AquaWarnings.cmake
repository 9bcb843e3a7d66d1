# Warning and sanitizer flags applied to aqua's own targets only.
function(aqua_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra)
  if(AQUA_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

if(AQUA_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
